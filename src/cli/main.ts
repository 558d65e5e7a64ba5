#!/usr/bin/env node
// The `ordersafe` command: see docs/cli.md.
import { processIO } from "./io.js";
import { runCli } from "./run.js";

// The library unrefs its timers; the command must not exit while a wait is pending.
const keepAlive = setInterval(() => {}, 1 << 30);

runCli(process.argv.slice(2), processIO()).then(
  (code) => {
    clearInterval(keepAlive);
    process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`ordersafe: error [unknown]: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
