#!/usr/bin/env node
// A `solc` command for tools that want a native compiler (Slither through crytic-compile):
// answers `--version` and `--standard-json` (input on stdin, output on stdout) with the pinned
// solc-js. Sources given by path ("urls") and imports are read from disk, relative to the
// working directory.
import fs from "node:fs";
import path from "node:path";
import solc from "solc";

const args = process.argv.slice(2);
if (args.includes("--version")) {
  console.log("solc, the solidity compiler commandline interface");
  console.log(`Version: ${solc.version()}`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  console.error("solc-shim: only --version and --standard-json are supported");
  process.exit(2);
}
const read = (file) => fs.readFileSync(path.resolve(file), "utf8");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
for (const source of Object.values(input.sources || {})) {
  if (source.content === undefined && Array.isArray(source.urls)) {
    source.content = read(source.urls[0]);
    delete source.urls;
  }
}
const findImports = (file) => {
  try {
    return { contents: read(file) };
  } catch {
    return { error: `file not found: ${file}` };
  }
};
process.stdout.write(solc.compile(JSON.stringify(input), { import: findImports }));
