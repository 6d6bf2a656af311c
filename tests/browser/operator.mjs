// The operator's flow: sign in with the operator's key, read the node's health, the chain's
// (block, the operator key's balances, pending anchors) and the review queue, release a record
// from the queue, read pool 1's plots, then close its epoch: the buttons are disabled and a
// spinner counts the seconds while it runs, the result stays on the page after its reload, and
// the plots gain the new epoch.
//
//   node operator.mjs URL OUT_DIR RECORD_ID
import { navigation, readPlots, runFlow, seenTexts, shot, signIn, statusText, watchTexts } from "./lib.mjs";

const queue = (page) => page.$$eval(".review-queue tbody tr", (trs) => trs.map((tr) => Number(tr.dataset.record)));
const text = (page, sel) => page.textContent(sel).then((t) => (t || "").replace(/\s+/g, " ").trim());

await runFlow("operator", async ({ page, url, outDir, args }) => {
  const [recordId] = args;
  const shots = [];
  await signIn(page, url, "operator", "/operator");
  await page.waitForSelector("#health");
  const health = await page.$$eval("#health tbody tr", (trs) => trs.map((tr) => ({
    part: tr.cells[0].textContent.trim(), state: tr.cells[1].textContent.trim(), detail: tr.cells[2].textContent.trim(),
  })));
  const healthTitle = await text(page, "#health h2");
  const chain = {
    block: Number(await text(page, "#chain-block")),
    eth: await text(page, "#operator-eth .big"),
    tokens: await text(page, "#operator-tokens .big"),
    gas: await text(page, "#gas-price"),
    pending: await page.$$eval("#pending-anchors tbody tr", (trs) => trs.map((tr) => ({
      pool: Number(tr.dataset.pool), pending: Number(tr.querySelector(".pending").dataset.pending),
    }))),
  };
  const before = await queue(page);
  const why = await page.textContent(`.review-queue tr[data-record="${recordId}"] td:nth-child(6)`);
  shots.push(await shot(page, outDir, "operator-1-health-and-queue"));

  let reloaded = navigation(page);
  await page.click(`button[data-action="review"][data-decision="release"][data-record="${recordId}"]`);
  await page.waitForFunction(() => /→/.test(document.querySelector("#status").textContent));
  const said = await statusText(page);
  await reloaded;
  const after = await queue(page);
  const awaiting = (await page.locator("p", { hasText: "awaiting review" }).first().textContent()).replace(/\s+/g, " ").trim();
  shots.push(await shot(page, outDir, "operator-2-released"));
  const plotsBefore = await readPlots(page, 1);

  // Close the epoch, its answer held a moment: the live status runs meanwhile.
  await page.route("**/v1/pools/1/epochs", async (route) => {
    await new Promise((r) => setTimeout(r, 1200));
    await route.continue();
  });
  const box = '.op-status[data-pool="1"]';
  await watchTexts(page, "close", box, ".op-text");
  reloaded = navigation(page);
  await page.click('button[data-action="close-epoch"][data-pool="1"]');
  await page.waitForSelector(`${box} .op[data-state="running"]`);
  await page.waitForFunction((sel) => parseFloat(document.querySelector(`${sel} .op-elapsed`).textContent) >= 0.4, box);
  const running = await page.evaluate((sel) => ({
    text: document.querySelector(`${sel} .op-text`).textContent,
    elapsed: parseFloat(document.querySelector(`${sel} .op-elapsed`).textContent),
    spinner: Boolean(document.querySelector(`${sel} .spinner`)),
    disabled: Array.from(document.querySelectorAll('.pool-actions[data-pool="1"] button')).map((b) => b.disabled),
    state: document.querySelector('button[data-action="close-epoch"][data-pool="1"]').dataset.state,
  }), box);
  shots.push(await shot(page, outDir, "operator-3-closing-epoch"));
  await page.waitForSelector(`${box} .op[data-state="done"]`);
  const done = await text(page, box);
  const seen = await seenTexts(page, "close");
  await reloaded;
  await page.waitForSelector(`${box} .op[data-state="done"]`);
  const kept = await text(page, box);
  const plotsAfter = await readPlots(page, 1);
  shots.push(await shot(page, outDir, "operator-4-epoch-closed"));
  const close = { running, done, kept, seen };
  return {
    health, healthTitle, chain, before, why: why.trim(), status: said, after, awaiting,
    plotsBefore, plotsAfter, close, shots,
  };
});
