import {
  clientOrderId,
  type JournalEntryInput,
  type JournalStore,
  memoryJournal,
  SmartRebalancer,
  toDecimal,
} from "ordersafe";
import { createSimulatedBroker, type SimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

// A process can die between the journal's write of a send and the request. A submit no answer
// settled, absent from the broker `neverPlacedAfterMs` after it was sent, never reached it:
// the run taking it over journals it `not_placed`, may trade its leg again under the next
// client order id, and closes. Before then it is `unresolved` and the run stays open; an order
// that lands late inside the window, or whose reply was lost, is found and followed.

const WINDOW_MS = 30_000;
const ACCOUNT = "simulated";
const SENT = clientOrderId({ runId: "ghost", symbol: "AAA", side: "sell", generation: 0 });
const NEXT = clientOrderId({ runId: "ghost", symbol: "AAA", side: "sell", generation: 1 });

function setup() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 5,
    cash: "2000",
    positions: { AAA: "100", BBB: "20" },
    prices: { AAA: "10", BBB: "20" },
    latency: { restMs: 20, fillMs: 200 },
  });
  const journal = memoryJournal({ clock });
  const rebalancer = () =>
    new SmartRebalancer({
      broker,
      clock,
      journal,
      journalLookupMs: 2_000,
      neverPlacedAfterMs: WINDOW_MS,
      lateFillWindowMs: 0,
    });
  return { clock, broker, journal, rebalancer };
}

/** The journal of a run "ghost" (sell 10 AAA toward 90) that wrote its send and died. */
async function crashedAfterTheSend(journal: JournalStore, clock: VirtualClock, answer?: "ambiguous") {
  const entries: JournalEntryInput[] = [
    {
      type: "run_start",
      runId: "ghost",
      targets: { quantities: { AAA: "90" } },
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
      sendId: SENT,
      op: "submit",
      request: {
        clientOrderId: SENT,
        symbol: "AAA",
        side: "sell",
        type: "market",
        timeInForce: "day",
        qty: "10",
      },
    },
  ];
  if (answer === "ambiguous") {
    entries.push({
      type: "answer",
      runId: "ghost",
      sendId: SENT,
      result: "ambiguous",
      message: "socket hang up",
    });
  }
  await journal.append(ACCOUNT, entries);
}

/** The order the dead process sent, reaching the broker now. */
async function lands(clock: VirtualClock, broker: SimulatedBroker) {
  await clock.run(
    broker.submitOrder({
      clientOrderId: SENT,
      symbol: "AAA",
      side: "sell",
      type: "market",
      timeInForce: "day",
      qty: toDecimal(10),
    }),
  );
}

const aaaOrders = (broker: SimulatedBroker) => broker.orders().filter((o) => o.symbol === "AAA");

describe("a journaled send that never reached the broker", () => {
  it("stays unresolved, its run open, until the window passes; then it is journaled not placed and traded again under the next id", async () => {
    const { clock, broker, journal, rebalancer } = setup();
    await crashedAfterTheSend(journal, clock);
    const sentAt = clock.now();

    const early = await clock.run(rebalancer().resume("ghost"));
    expect(early.takenOver).toEqual([
      { runId: "ghost", how: "resumed", orders: 1, unresolved: 1, finished: false },
    ]);
    expect(early.orders).toEqual([expect.objectContaining({ clientOrderId: SENT, state: "unresolved" })]);
    expect(early.adjustments.some((a) => a.reason === "never_placed")).toBe(false);
    expect(aaaOrders(broker)).toEqual([]);
    const [open] = await clock.run(rebalancer().unfinishedRuns());
    expect(open?.orders).toEqual([expect.objectContaining({ clientOrderId: SENT, state: "sent" })]);

    // Just short of the window: still unresolved.
    await clock.advanceTo(sentAt + WINDOW_MS - 2_500);
    const almost = await clock.run(rebalancer().resume("ghost"));
    expect(almost.takenOver[0]).toMatchObject({ unresolved: 1, finished: false });
    expect(aaaOrders(broker)).toEqual([]);

    await clock.advanceTo(sentAt + WINDOW_MS);
    const report = await clock.run(rebalancer().resume("ghost"));
    expect(report.takenOver).toEqual([
      { runId: "ghost", how: "resumed", orders: 1, unresolved: 0, finished: true },
    ]);
    expect(report.adjustments).toContainEqual(
      expect.objectContaining({ symbol: "AAA", side: "sell", reason: "never_placed" }),
    );
    // Traded again, once, under the next generation: never under the id that was journaled.
    expect(aaaOrders(broker).map((o) => o.clientOrderId)).toEqual([NEXT]);
    expect(report.orders.find((o) => o.clientOrderId === NEXT)?.state).toBe("filled");
    expect(broker.truth().positions.get("AAA")?.toFixed()).toBe("90");
    expect(await clock.run(rebalancer().unfinishedRuns())).toEqual([]);
  });

  it("writes a not_placed entry before anything is sent in its place, and a later take-over skips the send", async () => {
    const { clock, broker, journal, rebalancer } = setup();
    await crashedAfterTheSend(journal, clock);
    await clock.advance(WINDOW_MS);
    // The run taking over is cut short before its sells: the entry is there already.
    const r = rebalancer();
    const abort = new AbortController();
    r.on("phase", (e) => {
      if (e.phase === "sells") abort.abort(new Error("killed"));
    });
    await clock
      .run(r.rebalance({ quantities: { AAA: 90 } }, { runId: "taker", signal: abort.signal }))
      .catch(() => undefined);
    expect(abort.signal.aborted).toBe(true);
    const [ghost] = (await journal.openRuns(ACCOUNT)).runs.filter((x) => x.runId === "ghost");
    const notPlaced = (ghost?.entries ?? []).filter((e) => e.type === "not_placed");
    expect(notPlaced).toEqual([
      expect.objectContaining({
        runId: "ghost",
        sendId: SENT,
        clientOrderId: SENT,
        by: "taker",
        afterMs: WINDOW_MS,
      }),
    ]);
    expect(aaaOrders(broker)).toEqual([]);
    const runs = await clock.run(rebalancer().unfinishedRuns());
    expect(runs.find((x) => x.runId === "ghost")?.orders).toEqual([
      expect.objectContaining({ clientOrderId: SENT, state: "not_placed" }),
    ]);
    // The next take-over does not look for it again: nothing of the ghost is left to find.
    const next = await clock.run(rebalancer().rebalance({ quantities: { AAA: 90 } }, { runId: "next" }));
    expect(next.takenOver).toContainEqual({
      runId: "ghost",
      how: "superseded",
      orders: 0,
      unresolved: 0,
      finished: true,
    });
    expect(next.orders.filter((o) => o.adopted)).toEqual([]);
    expect(aaaOrders(broker)).toHaveLength(1);
    expect(broker.truth().positions.get("AAA")?.toFixed()).toBe("90");
    expect(await clock.run(rebalancer().unfinishedRuns())).toEqual([]);
  });

  it("an order that lands late inside the window is found, followed and not placed again", async () => {
    const { clock, broker, journal, rebalancer } = setup();
    await crashedAfterTheSend(journal, clock);
    const sentAt = clock.now();
    await clock.advance(1_000);
    const early = await clock.run(rebalancer().resume("ghost"));
    expect(early.takenOver[0]).toMatchObject({ unresolved: 1, finished: false });
    // The request the dead process made reaches the broker late, inside the window.
    await clock.advanceTo(sentAt + WINDOW_MS / 2);
    await lands(clock, broker);
    await clock.advanceTo(sentAt + WINDOW_MS + 5_000);
    const report = await clock.run(rebalancer().resume("ghost"));
    expect(report.takenOver).toEqual([
      { runId: "ghost", how: "resumed", orders: 1, unresolved: 0, finished: true },
    ]);
    expect(report.adjustments.some((a) => a.reason === "never_placed")).toBe(false);
    expect(report.orders).toContainEqual(
      expect.objectContaining({ clientOrderId: SENT, adopted: true, state: "filled" }),
    );
    expect(aaaOrders(broker).map((o) => o.clientOrderId)).toEqual([SENT]);
    expect(broker.truth().positions.get("AAA")?.toFixed()).toBe("90");
    expect(await clock.run(rebalancer().unfinishedRuns())).toEqual([]);
  });

  it("an order whose reply was lost after the broker placed it is found, not placed again", async () => {
    const { clock, broker, journal, rebalancer } = setup();
    await crashedAfterTheSend(journal, clock, "ambiguous");
    await lands(clock, broker);
    await clock.advance(WINDOW_MS * 2);
    const report = await clock.run(rebalancer().rebalance({ quantities: { AAA: 90 } }, { runId: "next" }));
    expect(report.takenOver).toEqual([
      { runId: "ghost", how: "superseded", orders: 1, unresolved: 0, finished: true },
    ]);
    expect(report.adjustments.some((a) => a.reason === "never_placed")).toBe(false);
    expect(report.orders).toContainEqual(expect.objectContaining({ clientOrderId: SENT, adopted: true }));
    expect(aaaOrders(broker).map((o) => o.clientOrderId)).toEqual([SENT]);
    expect(broker.truth().positions.get("AAA")?.toFixed()).toBe("90");
    expect(await clock.run(rebalancer().unfinishedRuns())).toEqual([]);
  });

  it("a send whose answer says the broker took it is never counted as not placed", async () => {
    const { clock, broker, journal, rebalancer } = setup();
    await crashedAfterTheSend(journal, clock);
    await journal.append(ACCOUNT, [
      {
        type: "answer",
        runId: "ghost",
        sendId: SENT,
        result: "refused",
        code: "duplicate_client_order_id",
        message: "client_order_id must be unique",
      },
    ]);
    await clock.advance(WINDOW_MS * 2);
    const report = await clock.run(rebalancer().resume("ghost"));
    expect(report.takenOver[0]).toMatchObject({ unresolved: 1, finished: false });
    expect(aaaOrders(broker)).toEqual([]);
  });

  it("a lookup that fails says nothing: past the window, the send stays unresolved and its run open", async () => {
    const { clock, broker, journal, rebalancer } = setup();
    await crashedAfterTheSend(journal, clock);
    await clock.advance(WINDOW_MS * 2);
    for (const method of ["getOrderByClientOrderId", "listOrders"] as const) {
      broker.script({ kind: "unavailable", method, times: 1_000 });
    }
    await clock.run(rebalancer().resume("ghost")).catch(() => undefined);
    const [ghost] = (await journal.openRuns(ACCOUNT)).runs.filter((x) => x.runId === "ghost");
    expect(ghost?.entries.some((e) => e.type === "not_placed")).toBe(false);
    expect(aaaOrders(broker)).toEqual([]);
  });
});

describe("a send whose journal write was slow", () => {
  /** The memory journal, its durable writes taking `ms` on the clock (a starved or paused process). */
  function slowJournal(clock: VirtualClock, ms: number): JournalStore {
    const inner = memoryJournal({ clock });
    return {
      ...inner,
      append: async (account, entries, options) => {
        if (options?.durable === true) await clock.sleep(ms);
        return inner.append(account, entries, options);
      },
      openRuns: (account, options) => inner.openRuns(account, options),
      finishRun: (account, runId, outcome, options) => inner.finishRun(account, runId, outcome, options),
      compact: (account, options) => inner.compact(account, options),
      close: () => inner.close(),
    };
  }

  function run(writeMs: number) {
    const { clock, broker } = setup();
    const journal = slowJournal(clock, writeMs);
    const rebalancer = new SmartRebalancer({ broker, clock, journal, neverPlacedAfterMs: WINDOW_MS });
    return { clock, broker, journal, report: clock.run(rebalancer.rebalance({ quantities: { AAA: 90 } })) };
  }

  it("is not made when the write took more than half the never-placed window, and is journaled refused", async () => {
    const slow = run(WINDOW_MS / 2 + 1_000);
    const report = await slow.report;
    expect(slow.broker.orders()).toEqual([]);
    expect(report.orders.map((o) => [o.state, o.errorCode])).toEqual([["submit_failed", "unavailable"]]);
    // Refused in the journal: nothing for a take-over to look for, no run left open by it.
    expect((await slow.journal.openRuns(ACCOUNT)).runs).toEqual([]);
  });

  it("is made when the write took less", async () => {
    const fast = run(WINDOW_MS / 2 - 1_000);
    const report = await fast.report;
    expect(fast.broker.orders().map((o) => [o.symbol, o.side, o.filledQty.toFixed()])).toEqual([
      ["AAA", "sell", "10"],
    ]);
    expect(report.orders.map((o) => o.state)).toEqual(["filled"]);
  });
});
