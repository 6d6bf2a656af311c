// The client side of the `fairwheel-voucher` x402 scheme (docs/payments.md), for @x402/core's
// x402Client: register it with `client.register("eip155:<chain id>", new FairwheelVoucherScheme(account))`.
//
// A payment is the pool's EIP-712 Voucher(address payer,uint256 poolId,uint256 cumulativeAmount)
// under the domain "Fairwheel UsageEscrow" / "1" / chain id / the escrow (`payTo`). The cumulative
// amount is what the payer has spent in the pool plus this call's price. The node says what it
// counted (`extra.spent`, when the request named its payer in X-Fairwheel-Payer); this client
// keeps the highest amount it ever signed per escrow and pool and refuses a node that claims more
// was spent than that, so a node can never make it sign for calls it did not pay for.

const VOUCHER_TYPES = {
  Voucher: [
    { name: "payer", type: "address" },
    { name: "poolId", type: "uint256" },
    { name: "cumulativeAmount", type: "uint256" },
  ],
};
export const SCHEME = "fairwheel-voucher";
export const DOMAIN_NAME = "Fairwheel UsageEscrow";
export const DOMAIN_VERSION = "1";

export class FairwheelVoucherScheme {
  /** @param {import("viem").LocalAccount} account the payer's key (viem `privateKeyToAccount`). */
  constructor(account) {
    this.scheme = SCHEME;
    this.account = account;
    this.signed = new Map(); // `${chainId}:${escrow}:${poolId}` -> highest cumulative signed
  }

  async createPaymentPayload(x402Version, requirements) {
    const extra = requirements.extra ?? {};
    const [family, chain] = requirements.network.split(":");
    if (family !== "eip155") throw new Error(`not an EVM network: ${requirements.network}`);
    if (extra.name !== DOMAIN_NAME || extra.version !== DOMAIN_VERSION) {
      throw new Error(`unexpected voucher domain ${extra.name} ${extra.version}`);
    }
    const chainId = Number(chain);
    const poolId = BigInt(extra.poolId);
    const price = BigInt(requirements.amount);
    const payer = this.account.address;
    const key = `${chainId}:${requirements.payTo.toLowerCase()}:${poolId}`;
    const known = this.signed.get(key);
    let spent;
    if (typeof extra.payer === "string" && extra.payer.toLowerCase() === payer.toLowerCase()) {
      spent = BigInt(extra.spent);
    } else if (known !== undefined) {
      spent = known;
    } else {
      throw new Error("the node did not say what this payer spent: send X-Fairwheel-Payer");
    }
    if (known !== undefined && spent > known) {
      throw new Error(`the node says ${spent} was spent, this client signed only ${known}`);
    }
    const cumulative = spent + price;
    const signature = await this.account.signTypedData({
      domain: { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId, verifyingContract: requirements.payTo },
      types: VOUCHER_TYPES,
      primaryType: "Voucher",
      message: { payer, poolId, cumulativeAmount: cumulative },
    });
    if (known === undefined || cumulative > known) this.signed.set(key, cumulative);
    return {
      x402Version,
      payload: {
        voucher: { payer, poolId: poolId.toString(), cumulativeAmount: cumulative.toString() },
        signature,
      },
    };
  }
}
