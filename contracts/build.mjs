// Reproducible build of the Fairwheel contracts with solc-js (standard JSON).
//
//   node build.mjs            compile contracts/src/*.sol and write the artifacts
//   node build.mjs --check    compile into a temporary folder and exit 1 if any committed
//                             artifact differs byte for byte (or is missing / extra)
//   node build.mjs --out DIR  write the artifacts into DIR instead
//
// Artifacts: ../src/fairwheel/chain/artifacts/<Name>.json =
//   {"abi", "bytecode", "compiler": {"evmVersion", "optimizer", "version"}, "contractName",
//    "deployedBytecode"} as JSON with sorted keys, indent 1 and a trailing newline.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(HERE, "src");
const DEFAULT_OUT = path.resolve(HERE, "..", "src", "fairwheel", "chain", "artifacts");
const CONTRACTS = ["FairToken", "PoolRegistry", "UsageEscrow", "RewardDistributor"];
const EXPECTED_SOLC = "0.8.37";
const EXPECTED_OZ = "5.7.0";
const EVM_VERSION = "cancun";
const OPTIMIZER = { enabled: true, runs: 200 };

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
    return out;
  }
  return value;
}

function findImports(importPath) {
  // Remapping "@openzeppelin/" -> "node_modules/@openzeppelin/"; "src/" -> this folder's src.
  const candidate = importPath.startsWith("@openzeppelin/")
    ? path.join(HERE, "node_modules", importPath)
    : path.join(HERE, importPath);
  if (!candidate.startsWith(HERE + path.sep)) return { error: `refused path ${importPath}` };
  try {
    return { contents: fs.readFileSync(candidate, "utf8") };
  } catch {
    return { error: `file not found: ${importPath}` };
  }
}

function compile() {
  const version = solc.version();
  if (!version.startsWith(EXPECTED_SOLC + "+")) {
    throw new Error(`solc ${EXPECTED_SOLC} expected, found ${version}`);
  }
  const ozPkg = path.join(HERE, "node_modules", "@openzeppelin", "contracts", "package.json");
  const ozVersion = JSON.parse(fs.readFileSync(ozPkg, "utf8")).version;
  if (ozVersion !== EXPECTED_OZ) {
    throw new Error(`@openzeppelin/contracts ${EXPECTED_OZ} expected, found ${ozVersion}`);
  }
  const sources = {};
  for (const file of fs.readdirSync(SRC).filter((f) => f.endsWith(".sol")).sort()) {
    sources[`src/${file}`] = { content: fs.readFileSync(path.join(SRC, file), "utf8") };
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: OPTIMIZER,
      remappings: ["@openzeppelin/=node_modules/@openzeppelin/"],
      metadata: { bytecodeHash: "none" },
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const diag of output.errors || []) {
    if (diag.severity !== "error") console.warn(diag.formattedMessage);
  }
  if (errors.length) {
    for (const e of errors) console.error(e.formattedMessage);
    throw new Error(`${errors.length} compiler error(s)`);
  }
  const artifacts = {};
  for (const name of CONTRACTS) {
    const unit = output.contracts[`src/${name}.sol`];
    if (!unit || !unit[name]) throw new Error(`no output for ${name}`);
    const c = unit[name];
    const artifact = {
      contractName: name,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      compiler: { version, evmVersion: EVM_VERSION, optimizer: OPTIMIZER },
    };
    artifacts[`${name}.json`] = JSON.stringify(sortKeys(artifact), null, 1) + "\n";
  }
  return artifacts;
}

function writeAll(dir, artifacts) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(artifacts)) fs.writeFileSync(path.join(dir, file), text);
}

function main(argv) {
  const check = argv.includes("--check");
  const outIdx = argv.indexOf("--out");
  const outDir = outIdx >= 0 ? path.resolve(argv[outIdx + 1]) : DEFAULT_OUT;
  const artifacts = compile();
  if (!check) {
    writeAll(outDir, artifacts);
    console.log(`wrote ${Object.keys(artifacts).length} artifacts to ${outDir}`);
    return 0;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fairwheel-artifacts-"));
  try {
    writeAll(tmp, artifacts);
    const problems = [];
    for (const file of Object.keys(artifacts).sort()) {
      const committed = path.join(outDir, file);
      if (!fs.existsSync(committed)) problems.push(`missing: ${file}`);
      else if (!fs.readFileSync(committed).equals(fs.readFileSync(path.join(tmp, file)))) {
        problems.push(`differs: ${file}`);
      }
    }
    const present = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith(".json")) : [];
    for (const file of present.sort()) if (!(file in artifacts)) problems.push(`extra: ${file}`);
    if (problems.length) {
      for (const p of problems) console.error(p);
      console.error("artifacts are stale: run scripts/build_contracts.sh");
      return 1;
    }
    console.log(`ok: ${Object.keys(artifacts).length} artifacts rebuild byte for byte`);
    return 0;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  console.error(String(err && err.message ? err.message : err));
  process.exitCode = 2;
}
