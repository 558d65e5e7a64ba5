// The command on ORDERSAFE_BROKER=simulated: the account is kept in a file between commands.
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { buildCli, runCli, workDir } from "./cli-harness.js";
import { RebalanceCommandSchema } from "./cli-schemas.js";

let cli: { file: string; dispose(): void };
let work: { dir: string; dispose(): void };
let env: Record<string, string>;

beforeAll(async () => {
  cli = await buildCli();
  work = workDir();
  env = {
    ORDERSAFE_BROKER: "simulated",
    ORDERSAFE_SIM_STATE: "sim.json",
    ORDERSAFE_HOME: join(work.dir, "home"),
  };
  writeFileSync(join(work.dir, "targets.json"), JSON.stringify({ weights: { SPY: 0.5, ZZZZ: 0.2 } }));
});

afterAll(() => {
  cli?.dispose();
  work?.dispose();
});

const run = (...args: string[]) => runCli(cli.file, args, { cwd: work.dir, env });
const state = () => JSON.parse(readFileSync(join(work.dir, "sim.json"), "utf8"));

describe("ordersafe on the simulated broker", () => {
  it("a leg that cannot trade makes completed_adjusted (exit 2); the account is kept for the next command", async () => {
    const r = await run("rebalance", "--targets", "targets.json", "--yes", "--json");
    expect(r.code).toBe(2);
    const out = RebalanceCommandSchema.parse(JSON.parse(r.stdout));
    if (!out.sent) throw new Error("expected a sent rebalance");
    expect(out.report.status).toBe("completed_adjusted");
    expect(out.report.orders.map((o) => `${o.side} ${o.symbol} ${o.state}`)).toEqual(["buy SPY filled"]);
    expect(state().positions).toEqual({ SPY: "100" });
    expect(state().cash).toBe("50000");

    const positions = await run("positions", "--json");
    expect(positions.code).toBe(0);
    const list = z
      .array(z.object({ symbol: z.string(), qty: z.string(), qtyAvailable: z.string() }).passthrough())
      .parse(JSON.parse(positions.stdout));
    expect(list.map((p) => [p.symbol, p.qty])).toEqual([["SPY", "100"]]);
  });

  it("reconcile --mode approve without a terminal refuses before anything is read or changed", async () => {
    const s = state();
    s.positions.SPY = "110";
    writeFileSync(join(work.dir, "sim.json"), JSON.stringify(s));
    const book = readFileSync(join(work.dir, "home", "book.json"), "utf8");
    const r = await run("reconcile", "--mode", "approve");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^ordersafe: error \[invalid_state\]: .*pass --yes.*\n$/);
    expect(r.stderr.split("\n")).toHaveLength(2);
    expect(readFileSync(join(work.dir, "home", "book.json"), "utf8")).toBe(book);
    expect(state().positions.SPY).toBe("110");
    expect(state().orders).toHaveLength(1);
  });

  it("reconcile sends an alert for drift above $100 to ORDERSAFE_ALERT_WEBHOOK", async () => {
    // The account still holds 110 SPY against the book's 100 (the test above): $5,000 of drift.
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => {
        body += d.toString();
      });
      req.on("end", () => {
        bodies.push(body);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      const r = await runCli(cli.file, ["reconcile"], {
        cwd: work.dir,
        env: { ...env, ORDERSAFE_ALERT_WEBHOOK: `http://127.0.0.1:${port}/alerts` },
      });
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/^SPY\s+100\s+110\s+10\s+\$5,000\.00\s+unexplained\s+no\s/m);
      expect(
        bodies
          .map((b) => JSON.parse(b).alert)
          .map((a) => [a.kind, a.runId, a.symbol, a.details.notionalDiff]),
      ).toEqual([["drift", "reconcile", "SPY", "5000"]]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("a bad targets file is one line with its code and no stack", async () => {
    writeFileSync(
      join(work.dir, "bad.json"),
      JSON.stringify({ weights: { SPY: 0.7 }, quantities: { SPY: 1 } }),
    );
    const r = await run("plan", "--targets", "bad.json");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^ordersafe: error \[validation\]: .*exactly one of weights, quantities and notionals.*\n$/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
