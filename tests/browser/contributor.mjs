// The contributor's flow: sign in, read the pool's terms (labels), upload a small CSV in chunks
// of two records (the live status says how many are in after each chunk), read the results
// grouped by reason with their fixes, search the records, open one record's history, and read
// the pool's plots.
//
//   node contributor.mjs URL OUT_DIR CSV_FILE WALLET_NAME
import { navigation, readPlots, runFlow, seenTexts, shot, signIn, statusText, watchTexts } from "./lib.mjs";

await runFlow("contributor", async ({ page, url, outDir, args }) => {
  const [csvFile, who = "alice"] = args;
  const shots = [];
  await signIn(page, url, who, "/contributor");
  // The terms of the selected pool are visible before anything is uploaded.
  const terms = page.locator('#submit-form [data-pool-terms]:not([hidden])');
  await terms.waitFor();
  const labels = await terms.locator(".labels code").allTextContents();
  const schema = (await terms.locator("tr", { hasText: "Schema" }).textContent()).replace(/\s+/g, " ").trim();
  shots.push(await shot(page, outDir, "contributor-1-terms"));

  const before = (await page.textContent("#records-count")) || "";
  await page.setInputFiles('#submit-form input[name="csv"]', csvFile);
  // Two records a chunk, each chunk's answer held a moment: the live status is on screen.
  await page.$eval("#submit-form", (form) => { form.dataset.chunk = "2"; });
  await page.route("**/v1/pools/*/contributions", async (route) => {
    await new Promise((r) => setTimeout(r, 700));
    await route.continue();
  });
  await watchTexts(page, "upload", "#upload-status", ".op-text");
  await page.click('#submit-form button[type="submit"]');
  await page.waitForFunction(() => /Uploading 2 of 4/.test(document.querySelector("#upload-status").textContent));
  const during = await page.evaluate(() => {
    const bar = document.querySelector("#upload-status progress");
    return {
      text: document.querySelector("#upload-status .op-text").textContent,
      state: document.querySelector("#upload-status .op").dataset.state,
      disabled: document.querySelector('#submit-form button[type="submit"]').disabled,
      spinner: Boolean(document.querySelector("#upload-status .spinner")),
      progress: bar && !bar.hidden ? [bar.value, bar.max] : null,
    };
  });
  shots.push(await shot(page, outDir, "contributor-2-uploading"));
  await page.waitForSelector("#submit-result .reason-group");
  await page.waitForSelector('#upload-status .op[data-state="done"]');
  const upload = {
    during, seen: await seenTexts(page, "upload"),
    final: (await page.textContent("#upload-status")).trim(),
    enabledAfter: await page.$eval('#submit-form button[type="submit"]', (b) => !b.disabled),
  };
  await page.unroute("**/v1/pools/*/contributions");
  const groups = await page.$$eval("#submit-result .reason-group", (boxes) => boxes.map((b) => ({
    reason: b.dataset.reason,
    title: b.querySelector("h3").textContent,
    fix: b.querySelector(".fix").textContent,
    items: Array.from(b.querySelectorAll("li")).map((li) => li.textContent),
  })));
  const summary = await page.textContent("#submit-result .upload-summary");
  const said = await statusText(page);
  shots.push(await shot(page, outDir, "contributor-3-upload-grouped"));

  // The button reloads the records; then search them on the server.
  const reloaded = navigation(page);
  await page.click('#submit-result [data-action="reload"]');
  await reloaded;
  const after = (await page.textContent("#records-count")) || "";
  await page.fill('#records-filter input[name="q"]', "unknown_label");
  const searched = navigation(page);
  await page.click('#records-filter button[type="submit"]');
  await searched;
  const found = await page.$$eval("#records-table tbody tr[class^='st-'] td:first-child a", (as) => as.map((a) => Number(a.textContent)));
  const fixes = await page.$$eval("#records-table .fix", (els) => els.map((e) => e.textContent));
  const query = new URL(page.url()).searchParams.get("q");
  shots.push(await shot(page, outDir, "contributor-4-search"));

  // One record's history: uses, earnings, revocation steps.
  const opened = navigation(page);
  await page.click("#records-table tbody tr[class^='st-'] td:first-child a");
  await opened;
  const history = {
    heading: (await page.textContent("h1")).replace(/\s+/g, " ").trim(),
    sections: await page.$$eval("section.panel h2", (hs) => hs.map((h) => h.textContent.trim())),
    steps: await page.$$eval("ol.steps li", (lis) => lis.map((li) => li.dataset.step)),
  };
  shots.push(await shot(page, outDir, "contributor-5-record-history"));

  // The pool's page: its plots, drawn from the ledger, the chain, the records and the models.
  await page.goto(url + "/pools/1");
  await page.waitForSelector('section.plots figure[data-plot="split"] svg');
  const plots = await readPlots(page, 1);
  shots.push(await shot(page, outDir, "contributor-6-pool-plots"));
  return { labels, schema, before, after, groups, summary, status: said, query, found, fixes, history, upload, plots, shots };
});
