// Pay for N searches of a Fairwheel pool with the real x402 fetch wrapper (@x402/fetch) and the
// fairwheel-voucher scheme; print one JSON line per call: {status, seq, payment}.
//
//   node pay.mjs URL POOL_ID PRIVATE_KEY ASSET COUNT
//
// Exits 1 if a call is not answered 200 with a PAYMENT-RESPONSE header.
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { privateKeyToAccount } from "viem/accounts";

import { FairwheelVoucherScheme } from "./fairwheel-voucher.mjs";

const [url, poolId, privateKey, asset, count] = process.argv.slice(2);
const account = privateKeyToAccount(privateKey);
const first = await fetch(`${url}/v1/chain`).then((r) => r.json());
const network = `eip155:${first.chain_id}`;
const client = x402Client.fromConfig({
  schemes: [{ network, client: new FairwheelVoucherScheme(account) }],
  // Not a default (USD) asset: opt the pool's token in, capped per payment in base units.
  spendControls: { allowedAssets: [{ network, asset, maxAmountPerPayment: "100000000" }] },
  // Pay only this node's escrow.
  policies: [(_, reqs) => reqs.filter((r) => r.payTo.toLowerCase() === first.contracts.UsageEscrow.toLowerCase())],
});
const pay = wrapFetchWithPayment(fetch, client);

let failed = false;
for (let i = 0; i < Number(count); i++) {
  const response = await pay(`${url}/v1/pools/${poolId}/search`, {
    method: "POST",
    headers: { "content-type": "application/json", "X-Fairwheel-Payer": account.address },
    body: JSON.stringify({ query: `card payment declined ${i}`, k: 3 }),
  });
  const body = await response.json();
  const header = response.headers.get("PAYMENT-RESPONSE");
  const payment = header ? decodePaymentResponseHeader(header) : null;
  console.log(JSON.stringify({ status: response.status, seq: body.seq ?? null, payment, body: response.ok ? undefined : body }));
  if (response.status !== 200 || !payment?.success) failed = true;
}
process.exit(failed ? 1 : 0);
