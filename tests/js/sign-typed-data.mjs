// Signs and checks the EIP-712 typed data a Fairwheel node serves, exactly as served, with the
// two JavaScript libraries wallets and dapps use: ethers (`Wallet.signTypedData(domain, types,
// message)`, which throws on an `EIP712Domain` entry in `types`) and viem (`signTypedData`).
// tests/test_typed_data_signable.py runs it. Reads one JSON object on stdin:
//
//   {"key": "0x<private key>",
//    "sign": [<typed data>, ...],                       // {types, primaryType, domain, message}
//    "verify": [{"typed": <typed data>, "signature": "0x..."}, ...]}
//
// and prints {"address", "signed": [{"ethers", "viem"}, ...], "recovered": [{"ethers", "viem"},
// ...]}. Exits 1 with the library's message when either library refuses a payload.
import { Wallet, verifyTypedData } from "ethers";
import { recoverTypedDataAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const input = await readStdin();
const wallet = new Wallet(input.key);
const account = privateKeyToAccount(input.key);

const signed = [];
for (const typed of input.sign ?? []) {
  const ethers = await wallet.signTypedData(typed.domain, typed.types, typed.message);
  const viem = await account.signTypedData({
    domain: typed.domain,
    types: typed.types,
    primaryType: typed.primaryType,
    message: typed.message,
  });
  signed.push({ ethers, viem });
}

const recovered = [];
for (const { typed, signature } of input.verify ?? []) {
  recovered.push({
    ethers: verifyTypedData(typed.domain, typed.types, typed.message, signature),
    viem: await recoverTypedDataAddress({
      domain: typed.domain,
      types: typed.types,
      primaryType: typed.primaryType,
      message: typed.message,
      signature,
    }),
  });
}

process.stdout.write(JSON.stringify({ address: wallet.address, signed, recovered }) + "\n");
