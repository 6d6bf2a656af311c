// Reproducible build of the Fairwheel contracts with solc-js (standard JSON).
//
//   node build.mjs            compile contracts/src/*.sol and contracts/test/*.sol and write the
//                             artifacts
//   node build.mjs --check    compile into a temporary folder and exit 1 if any committed
//                             artifact differs byte for byte (or is missing / extra)
//   node build.mjs --out DIR  write the protocol's artifacts into DIR instead (and the test
//                             contracts' into DIR/test)
//
// Two compilations, so that the test contracts can never change the shipped bytecode:
//   contracts/src/*.sol  -> ../src/fairwheel/chain/artifacts/<Name>.json   (shipped)
//   contracts/test/*.sol -> ../tests/artifacts/<Name>.json                 (tests only)
//
// Artifacts: <Name>.json =
//   {"abi", "bytecode", "compiler": {"evmVersion", "optimizer", "version"}, "contractName",
//    "deployedBytecode"} as JSON with sorted keys, indent 1 and a trailing newline.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SETS = [
  {
    dir: "src",
    out: path.resolve(HERE, "..", "src", "fairwheel", "chain", "artifacts"),
    contracts: ["FairToken", "PoolRegistry", "UsageEscrow", "RewardDistributor", "Staking"],
  },
  {
    dir: "test",
    out: path.resolve(HERE, "..", "tests", "artifacts"),
    contracts: ["QuirkyToken", "ReentrantToken"],
  },
];
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

function compile(set) {
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
  const srcDir = path.join(HERE, set.dir);
  for (const file of fs.readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
    sources[`${set.dir}/${file}`] = { content: fs.readFileSync(path.join(srcDir, file), "utf8") };
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
  for (const name of set.contracts) {
    const unit = output.contracts[`${set.dir}/${name}.sol`];
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

function checkSet(outDir, artifacts, problems) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fairwheel-artifacts-"));
  try {
    writeAll(tmp, artifacts);
    for (const file of Object.keys(artifacts).sort()) {
      const committed = path.join(outDir, file);
      if (!fs.existsSync(committed)) problems.push(`missing: ${committed}`);
      else if (!fs.readFileSync(committed).equals(fs.readFileSync(path.join(tmp, file)))) {
        problems.push(`differs: ${committed}`);
      }
    }
    const present = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith(".json")) : [];
    for (const file of present.sort()) if (!(file in artifacts)) problems.push(`extra: ${path.join(outDir, file)}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function main(argv) {
  const check = argv.includes("--check");
  const outIdx = argv.indexOf("--out");
  const custom = outIdx >= 0 ? path.resolve(argv[outIdx + 1]) : null;
  const problems = [];
  let count = 0;
  for (const [i, set] of SETS.entries()) {
    const outDir = custom ? (i === 0 ? custom : path.join(custom, set.dir)) : set.out;
    const artifacts = compile(set);
    count += Object.keys(artifacts).length;
    if (check) checkSet(outDir, artifacts, problems);
    else {
      writeAll(outDir, artifacts);
      console.log(`wrote ${Object.keys(artifacts).length} artifacts to ${outDir}`);
    }
  }
  if (!check) return 0;
  if (problems.length) {
    for (const p of problems) console.error(p);
    console.error("artifacts are stale: run scripts/build_contracts.sh");
    return 1;
  }
  console.log(`ok: ${count} artifacts rebuild byte for byte`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  console.error(String(err && err.message ? err.message : err));
  process.exitCode = 2;
}
