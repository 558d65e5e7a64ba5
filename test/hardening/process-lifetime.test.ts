// Node's process lifetime on the real clock: while a rebalance or a reconciliation loop waits
// (fills on an in-memory port, polling, a backoff after 5xx, a loop's interval), the process
// stays alive; once all is done it exits on its own, with code 0. In a child process, since
// the event loop itself is what is tested.

import { spawn } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const CHILD = join(import.meta.dirname, "fixtures", "lifetime-child.ts");
/** How long a process whose work is done may take to exit (its last timers, its teardown). */
const EXIT_BOUND_MS = 5_000;

it("a process rebalancing and reconciling on the system clock finishes its work, then exits with 0", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let lastLineAt = 0;
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    lastLineAt = Date.now();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  const exitedAfterMs = Date.now() - lastLineAt;
  expect({ code, err }).toEqual({ code: 0, err: "" });
  const lines = out.trim().split("\n");
  expect(lines.map((l) => l.split(" ")[0])).toEqual(["stream", "polling", "backoff", "reconciler"]);
  for (const l of lines.slice(0, 3)) expect(l).toMatch(/^\w+ completed [1-9]/);
  expect(exitedAfterMs).toBeLessThan(EXIT_BOUND_MS);
}, 60_000);
