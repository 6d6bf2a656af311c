// The contributor's flow: sign in, read the pool's terms (labels), upload a small CSV, read the
// results grouped by reason with their fixes, search the records, open one record's history.
//
//   node contributor.mjs URL OUT_DIR CSV_FILE WALLET_NAME
import { navigation, runFlow, shot, signIn, statusText } from "./lib.mjs";

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
  await page.click('#submit-form button[type="submit"]');
  await page.waitForSelector("#submit-result .reason-group");
  const groups = await page.$$eval("#submit-result .reason-group", (boxes) => boxes.map((b) => ({
    reason: b.dataset.reason,
    title: b.querySelector("h3").textContent,
    fix: b.querySelector(".fix").textContent,
    items: Array.from(b.querySelectorAll("li")).map((li) => li.textContent),
  })));
  const summary = await page.textContent("#submit-result .upload-summary");
  const said = await statusText(page);
  shots.push(await shot(page, outDir, "contributor-2-upload-grouped"));

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
  shots.push(await shot(page, outDir, "contributor-3-search"));

  // One record's history: uses, earnings, revocation steps.
  const opened = navigation(page);
  await page.click("#records-table tbody tr[class^='st-'] td:first-child a");
  await opened;
  const history = {
    heading: (await page.textContent("h1")).replace(/\s+/g, " ").trim(),
    sections: await page.$$eval("section.panel h2", (hs) => hs.map((h) => h.textContent.trim())),
    steps: await page.$$eval("ol.steps li", (lis) => lis.map((li) => li.dataset.step)),
  };
  shots.push(await shot(page, outDir, "contributor-4-record-history"));
  return { labels, schema, before, after, groups, summary, status: said, query, found, fixes, history, shots };
});
