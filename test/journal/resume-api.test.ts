import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  fileJournal,
  isOrdersafeError,
  type JournalStore,
  memoryJournal,
  SmartRebalancer,
  systemClock,
} from "ordersafe";
import { createSimulatedBroker, type SimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { tempDir } from "./fixtures.js";

// The explicit API over the journal: unfinishedRuns(), resume(runId), abandon(runId), and the
// report's `takenOver`. A run is cut short by aborting it once its first order is at the broker.

const TARGETS = { weights: { AAA: 0.2, BBB: 0.4, CCC: 0.4 } };

function setup(fillMs = 200) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 3,
    cash: "2000",
    positions: { AAA: "100", BBB: "20" },
    prices: { AAA: "10", BBB: "20", CCC: "50" },
    latency: { restMs: 20, fillMs },
  });
  const journal = memoryJournal({ clock });
  const rebalancer = () => new SmartRebalancer({ broker, clock, journal, journalLookupMs: 2_000 });
  return { clock, broker, journal, rebalancer };
}

/** Starts a run and aborts it as soon as the broker holds its first order. */
async function cutShort(clock: VirtualClock, r: SmartRebalancer, runId?: string): Promise<string> {
  const abort = new AbortController();
  r.once("order:submitted", () => abort.abort(new Error("killed")));
  const thrown = await clock
    .run(r.rebalance(TARGETS, { signal: abort.signal, ...(runId ? { runId } : {}) }))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(isOrdersafeError(thrown) && thrown.code).toBe("aborted");
  const id = isOrdersafeError(thrown) ? thrown.details.runId : undefined;
  if (typeof id !== "string") throw new Error("no runId on the abort");
  return id;
}

const clientIds = (broker: SimulatedBroker) => broker.orders().map((o) => o.clientOrderId);
const submits = (broker: SimulatedBroker) => broker.eventLog().filter((e) => e.type === "submit").length;

describe("unfinishedRuns()", () => {
  it("lists an aborted run with its targets and every order it sent, from the journal alone", async () => {
    const { clock, broker, rebalancer } = setup();
    const runId = await cutShort(clock, rebalancer(), "crashy");
    const calls = broker.totalCalls();
    const runs = await clock.run(rebalancer().unfinishedRuns());
    expect(broker.totalCalls()).toBe(calls);
    expect(runs).toHaveLength(1);
    const [run] = runs;
    expect(run?.runId).toBe(runId);
    expect(run?.targets).toEqual({ weights: { AAA: "0.2", BBB: "0.4", CCC: "0.4" } });
    expect(run?.orders.length).toBeGreaterThan(0);
    for (const o of run?.orders ?? []) {
      expect(o.op).toBe("submit");
      expect(clientIds(broker)).toContain(o.clientOrderId);
      expect(["sent", "pending_new", "accepted", "new", "partially_filled", "filled"]).toContain(o.state);
    }
  });

  it("is empty once the run is resumed", async () => {
    const { clock, rebalancer } = setup();
    await cutShort(clock, rebalancer(), "crashy");
    await clock.run(rebalancer().resume("crashy"));
    expect(await clock.run(rebalancer().unfinishedRuns())).toEqual([]);
  });
});

describe("resume(runId)", () => {
  it("follows the run's orders, plans afresh toward its targets, and says it resumed", async () => {
    const { clock, broker, rebalancer } = setup();
    await cutShort(clock, rebalancer(), "crashy");
    const [before] = await clock.run(rebalancer().unfinishedRuns());
    const sent = before?.orders.length ?? 0;
    const report = await clock.run(rebalancer().resume("crashy"));
    expect(report.runId).toBe("crashy");
    expect(report.takenOver).toEqual([
      { runId: "crashy", how: "resumed", orders: sent, unresolved: 0, finished: true },
    ]);
    for (const o of before?.orders ?? []) {
      expect(report.orders.find((x) => x.clientOrderId === o.clientOrderId)?.adopted).toBe(true);
    }
    // Nothing placed twice; every order at the broker is final and in the report.
    expect(new Set(clientIds(broker)).size).toBe(clientIds(broker).length);
    for (const o of broker.orders()) {
      expect(report.orders.map((x) => x.clientOrderId)).toContain(o.clientOrderId);
    }
    expect(report.orders.every((o) => o.state === "filled")).toBe(true);
    const held = Object.fromEntries(report.positionsAfter.map((p) => [p.symbol, p.qty.toNumber()]));
    expect(held.CCC).toBeGreaterThan(0);
  });

  it("resumes a one-symbol run toward the quantity it was given, the other holdings alone", async () => {
    const { clock, broker, rebalancer } = setup(60_000);
    const r = rebalancer();
    const abort = new AbortController();
    r.once("order:submitted", () => abort.abort(new Error("killed")));
    await clock
      .run(r.executeRebalance("AAA", "100", "40", { runId: "one", signal: abort.signal }))
      .catch(() => undefined);
    const report = await clock.run(rebalancer().resume("one"));
    expect(report.takenOver.map((t) => t.how)).toEqual(["resumed"]);
    expect(report.orders.every((o) => o.symbol === "AAA")).toBe(true);
    expect(broker.orders().every((o) => o.symbol === "AAA")).toBe(true);
    const held = Object.fromEntries(report.positionsAfter.map((p) => [p.symbol, p.qty.toNumber()]));
    expect(held).toEqual({ AAA: 40, BBB: 20 });
  });

  it("a rebalance under a new id supersedes the unfinished run", async () => {
    const { clock, rebalancer } = setup();
    await cutShort(clock, rebalancer(), "crashy");
    const report = await clock.run(rebalancer().rebalance(TARGETS, { runId: "next" }));
    expect(report.takenOver).toHaveLength(1);
    expect(report.takenOver[0]).toMatchObject({ runId: "crashy", how: "superseded", finished: true });
    expect(await clock.run(rebalancer().unfinishedRuns())).toEqual([]);
  });

  it("a run with nothing to take over reports an empty list", async () => {
    const { clock, rebalancer } = setup();
    const report = await clock.run(rebalancer().rebalance(TARGETS));
    expect(report.takenOver).toEqual([]);
  });

  it("refuses an unknown runId (not_found) and a malformed one (validation), sending nothing", async () => {
    const { clock, broker, rebalancer } = setup();
    const r = rebalancer();
    const code = (p: Promise<unknown>) =>
      clock.run(p).then(
        () => "none",
        (e: unknown) => isOrdersafeError(e) && e.code,
      );
    expect(await code(r.resume("nope"))).toBe("not_found");
    expect(await code(r.abandon("nope"))).toBe("not_found");
    expect(await code(r.resume(""))).toBe("validation");
    expect(await code(r.abandon("a\nb"))).toBe("validation");
    // A finished run is not unfinished any more.
    await clock.run(r.rebalance(TARGETS, { runId: "done" }));
    expect(await code(r.resume("done"))).toBe("not_found");
    expect(broker.eventLog().filter((e) => e.type === "submit").length).toBeGreaterThan(0);
  });
});

describe("compaction", () => {
  it("a finished run stays in the journal file until the next run starts", async () => {
    // A file journal does real I/O: the broker runs on real time here, with no latency.
    const broker = createSimulatedBroker({
      clock: systemClock,
      cash: "2000",
      positions: { AAA: "100", BBB: "20" },
      prices: { AAA: "10", BBB: "20", CCC: "50" },
    });
    const { dir, remove } = tempDir();
    try {
      const journal = fileJournal(dir, { fsync: false });
      const r = new SmartRebalancer({ broker, journal, lateFillWindowMs: 0, settleMs: 0 });
      const text = () => {
        const file = readdirSync(dir).find((f) => f.endsWith(".jsonl") && !f.endsWith(".torn.jsonl"));
        return file === undefined ? "" : readFileSync(join(dir, file), "utf8");
      };
      const first = await r.rebalance(TARGETS, { runId: "first" });
      // Its sends and its end are still there: a process killed now, before its caller read
      // the report, loses no order.
      for (const o of first.orders) expect(text()).toContain(o.clientOrderId);
      expect(text()).toContain('"type":"run_end"');
      await r.rebalance(TARGETS, { runId: "second" });
      expect(text()).not.toContain('"runId":"first"');
      await journal.close();
    } finally {
      remove();
    }
  });
});

describe("abandon(runId)", () => {
  it("cancels its open orders, follows each to its end, trades nothing more, and marks it abandoned", async () => {
    // Fills take a minute: the orders are open when the run is cut short.
    const { clock, broker, rebalancer } = setup(60_000);
    await cutShort(clock, rebalancer(), "crashy");
    const [before] = await clock.run(rebalancer().unfinishedRuns());
    const placed = submits(broker);
    const result = await clock.run(rebalancer().abandon("crashy"));
    expect(submits(broker)).toBe(placed);
    expect(result.finished).toBe(true);
    expect(result.takenOver).toEqual({
      runId: "crashy",
      how: "abandoned",
      orders: before?.orders.length,
      unresolved: 0,
      finished: true,
    });
    expect(result.orders.map((o) => o.clientOrderId).sort()).toEqual(
      (before?.orders ?? []).map((o) => o.clientOrderId).sort(),
    );
    for (const o of result.orders) expect(o.state).toBe("canceled");
    for (const o of broker.orders()) expect(o.status).toBe("canceled");
    expect(await clock.run(rebalancer().unfinishedRuns())).toEqual([]);
  });

  it("keeps the run unfinished while an order it sent cannot be found (it may be live)", async () => {
    const { clock, broker, journal, rebalancer } = setup();
    await sentButNeverSeen(journal, clock);
    const result = await clock.run(rebalancer().abandon("ghost"));
    expect(result.finished).toBe(false);
    expect(result.orders).toHaveLength(1);
    expect(result.orders[0]).toMatchObject({ clientOrderId: "os-ghost-AAA-s0", state: "unresolved" });
    expect(result.takenOver).toMatchObject({ how: "abandoned", orders: 1, unresolved: 1, finished: false });
    expect(submits(broker)).toBe(0);
    const runs = await clock.run(rebalancer().unfinishedRuns());
    expect(runs.map((r) => r.runId)).toEqual(["ghost"]);
    expect(runs[0]?.orders[0]?.state).toBe("sent");
    // A rebalance takes it over too, and leaves it open for the same reason.
    const report = await clock.run(rebalancer().rebalance(TARGETS));
    expect(report.takenOver).toEqual([
      { runId: "ghost", how: "superseded", orders: 1, unresolved: 1, finished: false },
    ]);
    expect(report.orders.some((o) => o.symbol === "AAA" && !o.adopted)).toBe(false);
  });
});

/** A journal holding a run whose submit was written and never reached the broker. */
async function sentButNeverSeen(journal: JournalStore, clock: VirtualClock) {
  const account = "simulated";
  await journal.append(account, [
    {
      type: "run_start",
      runId: "ghost",
      targets: { weights: { AAA: "0.5" } },
      options: {},
      account: {
        cash: "2000",
        buyingPower: "2000",
        equity: "3400",
        currency: "USD",
        tradingBlocked: false,
        asOf: new Date(clock.now()),
      },
      positions: [],
    },
    {
      type: "send",
      runId: "ghost",
      sendId: "os-ghost-AAA-s0",
      op: "submit",
      request: {
        clientOrderId: "os-ghost-AAA-s0",
        symbol: "AAA",
        side: "sell",
        type: "market",
        timeInForce: "day",
        qty: "10",
      },
    },
  ]);
}
