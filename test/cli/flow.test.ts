// plan → rebalance with the plan's hash → reconcile, each a real `ordersafe` process talking
// HTTP to the fake Alpaca server.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type FakeAlpacaServer, startFakeAlpacaServer } from "ordersafe/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, runCli, workDir } from "./cli-harness.js";
import { PlanCommandSchema, RebalanceCommandSchema, ReconcileCommandSchema } from "./cli-schemas.js";

const KEY = "PKTESTKEY1234";
const SECRET = "s3cr3t-value-never-shown";

let cli: { file: string; dispose(): void };
let server: FakeAlpacaServer;
let work: { dir: string; dispose(): void };
let env: Record<string, string>;

beforeAll(async () => {
  cli = await buildCli();
  server = await startFakeAlpacaServer({
    keyId: KEY,
    secret: SECRET,
    cash: 10_000,
    positions: { SPY: 10 },
    prices: { SPY: 500, BIL: "91.5" },
  });
  work = workDir();
  env = {
    APCA_API_KEY_ID: KEY,
    APCA_API_SECRET_KEY: SECRET,
    APCA_API_BASE_URL: server.baseUrl,
    APCA_API_DATA_URL: server.dataBaseUrl,
    APCA_API_STREAM_URL: server.streamUrl,
    ORDERSAFE_HOME: join(work.dir, "home"),
  };
  writeFileSync(join(work.dir, "targets.json"), JSON.stringify({ weights: { SPY: 0.2, BIL: 0.5 } }));
});

afterAll(async () => {
  await server?.close();
  cli?.dispose();
  work?.dispose();
});

const orderPosts = () =>
  server.requests().filter((r) => r.method === "POST" && r.path === "/v2/orders").length;
const run = (...args: string[]) => runCli(cli.file, args, { cwd: work.dir, env });

// Each test spawns three processes; the second goes on from the first's account.
describe("ordersafe against the fake Alpaca server", () => {
  let hash = "";

  it("plan, then rebalance without approval or with another hash: nothing sent", async () => {
    const planned = await run("plan", "--targets", "targets.json", "--json");
    expect(planned.stderr).toBe("");
    expect(planned.code).toBe(0);
    const plan = PlanCommandSchema.parse(JSON.parse(planned.stdout));
    expect(plan.plan.legs.map((l) => `${l.side} ${l.symbol}`)).toEqual(["sell SPY", "buy BIL"]);
    expect(orderPosts()).toBe(0);

    const unapproved = await run("rebalance", "--targets", "targets.json", "--json");
    expect(unapproved.code).toBe(3);
    const refused = RebalanceCommandSchema.parse(JSON.parse(unapproved.stdout));
    expect(refused.sent).toBe(false);
    expect(refused.hash).toBe(plan.hash);
    expect(orderPosts()).toBe(0);

    const wrong = await run("rebalance", "--targets", "targets.json", "--approve", "0123456789ab");
    expect(wrong.code).toBe(3);
    expect(wrong.stdout).toContain(
      `the plan changed (its hash is now ${plan.hash}, not 0123456789ab): nothing sent`,
    );
    expect(orderPosts()).toBe(0);
    hash = plan.hash;
  });

  it("rebalance --approve HASH sends the plan, then reconcile finds the book in line, then a trade made elsewhere", async () => {
    expect(hash).not.toBe("");
    const approved = await run(
      "rebalance",
      "--targets",
      "targets.json",
      "--approve",
      hash,
      "--json",
      "--run-id",
      "e2e-1",
    );
    expect(approved.code).toBe(0);
    const done = RebalanceCommandSchema.parse(JSON.parse(approved.stdout));
    if (!done.sent) throw new Error("expected the rebalance to be sent");
    expect(done.report.status).toBe("completed");
    expect(done.report.runId).toBe("e2e-1");
    expect(done.report.orders.map((o) => `${o.side} ${o.symbol} ${o.state}`)).toEqual([
      "sell SPY filled",
      "buy BIL filled",
    ]);
    expect(orderPosts()).toBe(2);
    // Plain progress lines on a pipe: the phases and each order's final state.
    expect(approved.stderr).toMatch(/^phase sells$/m);
    expect(approved.stderr).toMatch(/^order SPY sell filled 4 @ \$500\.00$/m);
    const truth = server.broker.truth();
    expect(truth.positions.get("SPY")?.toFixed()).toBe("6");
    const book = JSON.parse(readFileSync(join(work.dir, "home", "book.json"), "utf8"));
    expect(book.positions).toEqual({
      SPY: "6",
      BIL: truth.positions.get("BIL")?.toFixed(),
    });

    // The book matches the broker: nothing to do.
    const clean = await run("reconcile", "--json");
    expect(clean.code).toBe(0);
    expect(ReconcileCommandSchema.parse(JSON.parse(clean.stdout)).drifts).toEqual([]);

    // A trade made elsewhere: reported (exit 2), nothing sent in report mode.
    server.broker.outsideTrade("SPY", 3);
    const before = orderPosts();
    const drifted = await run("reconcile", "--json");
    expect(drifted.code).toBe(2);
    const rec = ReconcileCommandSchema.parse(JSON.parse(drifted.stdout));
    expect(rec.drifts.map((d) => [d.symbol, d.expectedQty, d.actualQty, d.class, d.withinTolerance])).toEqual(
      [["SPY", "6", "9", "unexplained", false]],
    );
    expect(rec.actions.map((a) => [a.symbol, a.kind, a.status])).toEqual([["SPY", "order", "proposed"]]);
    expect(orderPosts()).toBe(before);
  });
});
