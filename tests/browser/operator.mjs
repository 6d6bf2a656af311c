// The operator's flow: sign in with the operator's key, read the node's health and the review
// queue, release a record from the queue.
//
//   node operator.mjs URL OUT_DIR RECORD_ID
import { navigation, runFlow, shot, signIn, statusText } from "./lib.mjs";

const queue = (page) => page.$$eval(".review-queue tbody tr", (trs) => trs.map((tr) => Number(tr.dataset.record)));

await runFlow("operator", async ({ page, url, outDir, args }) => {
  const [recordId] = args;
  const shots = [];
  await signIn(page, url, "operator", "/operator");
  await page.waitForSelector("#health");
  const health = await page.$$eval("#health tbody tr", (trs) => trs.map((tr) => ({
    part: tr.cells[0].textContent.trim(), state: tr.cells[1].textContent.trim(), detail: tr.cells[2].textContent.trim(),
  })));
  const healthTitle = (await page.textContent("#health h2")).replace(/\s+/g, " ").trim();
  const before = await queue(page);
  const why = await page.textContent(`.review-queue tr[data-record="${recordId}"] td:nth-child(6)`);
  shots.push(await shot(page, outDir, "operator-1-health-and-queue"));

  const reloaded = navigation(page);
  await page.click(`button[data-action="review"][data-decision="release"][data-record="${recordId}"]`);
  await page.waitForFunction(() => /→/.test(document.querySelector("#status").textContent));
  const said = await statusText(page);
  await reloaded;
  const after = await queue(page);
  const awaiting = (await page.locator("p", { hasText: "awaiting review" }).first().textContent()).replace(/\s+/g, " ").trim();
  shots.push(await shot(page, outDir, "operator-2-released"));
  return { health, healthTitle, before, why: why.trim(), status: said, after, awaiting, shots };
});
