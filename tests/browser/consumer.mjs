// The consumer's flow: sign in, get test tokens from the faucet, deposit into escrow (the
// transaction shows pending, then confirmed), make a paid search, rate that call on its row,
// read the spend chart, download the usage CSV, request a withdrawal and (moving the test
// chain past its thaw) complete it.
//
//   node consumer.mjs URL OUT_DIR WALLET_NAME
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { navigation, runFlow, shot, signIn, statusText } from "./lib.mjs";

const balance = (page) => page.textContent("#token-balance").then((t) => Number(t.trim()));
const escrow = (page, pool) => page.textContent(`#escrows tr[data-pool="${pool}"] .escrow-balance`).then((t) => Number(t.replace("FAIR", "").trim()));
const txStates = (page) => page.$$eval("#tx-log li.tx", (lis) => lis.map((li) => ({ label: li.querySelector("strong").textContent, state: li.dataset.state, text: li.textContent })));

await runFlow("consumer", async ({ page, url, outDir, args }) => {
  const [who = "dave"] = args;
  const shots = [];
  await signIn(page, url, who, "/consumer");
  const tokensBefore = await balance(page);

  // Faucet (dev mode): the page reloads with the new balance.
  let reloaded = navigation(page);
  await page.click('[data-action="faucet"]');
  await reloaded;
  const tokensAfterFaucet = await balance(page);

  // Deposit: hold the server's answer a moment, so the pending state is on screen.
  const escrowBefore = await escrow(page, 1);
  await page.route("**/v1/dev/wallets/*/deposit", async (route) => {
    await new Promise((r) => setTimeout(r, 800));
    await route.continue();
  });
  await page.fill('.deposit-form[data-pool="1"] input[name="amount"]', "5");
  reloaded = navigation(page);
  await page.click('.deposit-form[data-pool="1"] button[type="submit"]');
  await page.waitForSelector('#tx-log li[data-state="pending"]');
  const pending = await txStates(page);
  shots.push(await shot(page, outDir, "consumer-1-deposit-pending"));
  await reloaded;
  const confirmed = await txStates(page);
  const escrowAfter = await escrow(page, 1);
  const tokensAfterDeposit = await balance(page);
  shots.push(await shot(page, outDir, "consumer-2-deposit-confirmed"));

  // A paid search: the wallet signs the voucher, the answer lists the hits.
  await page.selectOption('#try-form select[name="kind"]', "search");
  await page.fill('#try-form input[name="query"]', "somebody stole my credit card");
  await page.click('#try-form button[type="submit"]');
  await page.waitForSelector("#try-result .hit");
  const head = await page.textContent("#try-result p");
  const seq = Number(/Call #(\d+)/.exec(head)[1]);
  const hits = await page.$$eval("#try-result .hit", (divs) => divs.map((d) => d.textContent));
  shots.push(await shot(page, outDir, "consumer-3-paid-search"));

  // The usage: the new call's row shows the query (kept by this browser), rate it there.
  await page.goto(url + "/consumer?page=1#usage");
  const row = page.locator("#calls tbody tr", { has: page.locator(`td.seq[data-seq="${seq}"]`) });
  await row.waitFor();
  const qa = (await row.locator("td.qa").textContent()).trim();
  const served = (await row.locator("td").nth(5).textContent()).trim();
  await row.locator('button[data-action="rate"][data-rating="5"]').click();
  await row.locator(".stars").waitFor();
  const stars = await row.locator(".stars").textContent();
  const rated = await statusText(page);
  const chart = await page.$eval('svg[aria-label="Your spend over time (cumulative)"]', (svg) => ({
    circles: svg.querySelectorAll("circle").length,
    lines: svg.querySelectorAll("polyline").length,
  }));
  shots.push(await shot(page, outDir, "consumer-4-usage-rated"));

  // The CSV export, downloaded as a person would.
  const download = page.waitForEvent("download");
  await page.click("#usage-csv");
  const file = await download;
  const saved = join(outDir, "consumer-usage.csv");
  await file.saveAs(saved);
  const csv = readFileSync(saved, "utf8");

  // A withdrawal request: confirmed, then thawing.
  await page.fill('.withdraw-form[data-pool="1"] input[name="amount"]', "1");
  reloaded = navigation(page);
  await page.click('.withdraw-form[data-pool="1"] button[type="submit"]');
  await reloaded;
  const afterWithdraw = await txStates(page);
  const withdrawal = (await page.textContent(`#escrows tr[data-pool="1"] td:nth-child(5)`)).trim();
  shots.push(await shot(page, outDir, "consumer-5-withdrawal-requested"));

  // Dev mode: move the test chain past the thaw, then complete the withdrawal.
  const escrowBeforeWithdraw = await escrow(page, 1);
  const tokensBeforeWithdraw = await balance(page);
  reloaded = navigation(page);
  await page.click(`#escrows tr[data-pool="1"] [data-action="advance-time"]`);
  await reloaded;
  reloaded = navigation(page);
  await page.click(`#escrows tr[data-pool="1"] [data-action="withdraw"]`);
  await reloaded;
  const completed = await txStates(page);
  const escrowAfterWithdraw = await escrow(page, 1);
  const tokensAfterWithdraw = await balance(page);
  shots.push(await shot(page, outDir, "consumer-6-withdrawn"));

  return {
    tokensBefore, tokensAfterFaucet, tokensAfterDeposit, escrowBefore, escrowAfter, pending,
    confirmed, seq, hits, qa, served, stars, rated, chart, csv, suggested: file.suggestedFilename(),
    afterWithdraw, withdrawal, completed, escrowBeforeWithdraw, escrowAfterWithdraw,
    tokensBeforeWithdraw, tokensAfterWithdraw, shots,
  };
});
