import { clientOrderId, Decimal, type OrderSide, type OrderSnapshot } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import type { PlannedRead } from "../../src/execution/read-state.js";
import { MAX_GENERATIONS, ownGeneration, ResumeGenerations } from "../../src/execution/resume-generations.js";

const RUN = "resume-1";
const idOf = (generation: number, side: OrderSide = "sell", symbol = "AAA") =>
  clientOrderId({ runId: RUN, symbol, side, generation });

function setup() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    prices: { AAA: 100 },
    positions: { AAA: 10 },
    latency: { restMs: 10, fillMs: 20 },
  });
  const adopted: OrderSnapshot[][] = [];
  const generations = new ResumeGenerations({
    runId: RUN,
    broker,
    adopt: async (found) => {
      adopted.push([...found]);
    },
  });
  /** A filled market sell of one share under generation `g`'s id. */
  const filledSell = async (g: number) => {
    await clock.run(
      broker.submitOrder({
        clientOrderId: idOf(g),
        symbol: "AAA",
        side: "sell",
        type: "market",
        timeInForce: "day",
        qty: new Decimal(1),
      }),
    );
    await clock.runUntilIdle();
  };
  /** A sell limit far above the price: it stays open. */
  const workingSell = (g: number) =>
    clock.run(
      broker.submitOrder({
        clientOrderId: idOf(g),
        symbol: "AAA",
        side: "sell",
        type: "limit",
        timeInForce: "day",
        qty: new Decimal(1),
        limitPrice: new Decimal(200),
      }),
    );
  /** What a plan read now: the open orders and positions, at the clock's time. */
  const readNow = async (): Promise<PlannedRead> => {
    const readAt = clock.now();
    const [openOrders, positions] = await clock.run(
      Promise.all([broker.listOpenOrders(), broker.getPositions()]),
    );
    return { openOrders, positions, readAt };
  };
  const lookups = () => broker.calls.getOrderByClientOrderId;
  return { clock, broker, generations, adopted, filledSell, workingSell, readNow, lookups };
}

describe("ownGeneration", () => {
  const order = (id: string, side: OrderSide = "sell") =>
    ({ clientOrderId: id, symbol: "AAA", side }) as OrderSnapshot;

  it("tells the generation of this run's ids, and nothing of others'", () => {
    expect(ownGeneration(RUN, order(idOf(0)))).toBe(0);
    expect(ownGeneration(RUN, order(idOf(3)))).toBe(3);
    expect(ownGeneration(RUN, order(idOf(2, "buy"), "buy"))).toBe(2);
    // The side is part of the id: a buy's id on a sell is not this run's.
    expect(ownGeneration(RUN, order(idOf(2, "buy"), "sell"))).toBeUndefined();
    expect(ownGeneration("other-run", order(idOf(0)))).toBeUndefined();
    expect(ownGeneration(RUN, order(idOf(MAX_GENERATIONS)))).toBeUndefined();
  });
});

describe("ResumeGenerations", () => {
  it("starts an unused pair at generation 0, after one lookup", async () => {
    const { clock, generations, adopted, lookups } = setup();
    const next = await clock.run(generations.next("AAA", "sell", undefined));
    expect(next).toEqual({ kind: "free", generation: 0 });
    expect(lookups()).toBe(1);
    expect(adopted).toEqual([[]]);
  });

  it("goes past the generations an earlier attempt used, adopting their orders", async () => {
    const { clock, generations, adopted, filledSell, lookups } = setup();
    await filledSell(0);
    await filledSell(1);
    const walk = await clock.run(generations.walk("AAA", "sell", undefined));
    expect(walk.generation).toBe(2);
    expect(walk.found.map((o) => o.clientOrderId)).toEqual([idOf(0), idOf(1)]);
    expect(walk.uncounted).toBeUndefined();
    expect(lookups()).toBe(3);
    expect(adopted.map((a) => a.map((o) => o.clientOrderId))).toEqual([[idOf(0), idOf(1)]]);
  });

  it("walks each pair once: later callers share the walk and nothing is adopted twice", async () => {
    const { clock, generations, adopted, filledSell, lookups } = setup();
    await filledSell(0);
    const [a, b] = await clock.run(
      Promise.all([generations.next("AAA", "sell", undefined), generations.next("AAA", "sell", undefined)]),
    );
    expect(a).toEqual({ kind: "free", generation: 1 });
    expect(b).toEqual(a);
    expect(lookups()).toBe(2);
    expect(adopted).toHaveLength(1);
    // Another side is another pair.
    expect(await clock.run(generations.next("AAA", "buy", undefined))).toEqual({
      kind: "free",
      generation: 0,
    });
    expect(lookups()).toBe(3);
  });

  it("costs no call for an adopted id or one among the plan's open orders", async () => {
    const { clock, generations, workingSell, readNow, lookups } = setup();
    await workingSell(0);
    await workingSell(1);
    const read = await readNow();
    generations.markAdopted(idOf(0));
    const walk = await clock.run(generations.walk("AAA", "sell", read));
    // Generation 0 was adopted already, 1 was in the read (counted): only 2 is looked up.
    expect(walk.generation).toBe(2);
    expect(walk.found.map((o) => o.clientOrderId)).toEqual([idOf(1)]);
    expect(walk.uncounted).toBeUndefined();
    expect(lookups()).toBe(1);
  });

  it("stops at a lookup that fails and reuses that id, never skipping it", async () => {
    const { clock, broker, generations, filledSell, lookups } = setup();
    await filledSell(0);
    await filledSell(1);
    generations.markAdopted(idOf(0));
    broker.script({ kind: "unavailable", method: "getOrderByClientOrderId" });
    const walk = await clock.run(generations.walk("AAA", "sell", undefined));
    // Generation 1 exists, but the broker could not say so: the next order takes its id and
    // is refused as a duplicate (then adopted), rather than leaving a gap at 1.
    expect(walk.generation).toBe(1);
    expect(walk.found).toEqual([]);
    expect(lookups()).toBe(1);
  });

  it("goes past a gap left by a generation refused at submit", async () => {
    const { clock, generations, workingSell, readNow, lookups } = setup();
    // Generation 0 was refused (never placed); the resized retry took generation 1.
    await workingSell(1);
    const read = await readNow();
    const walk = await clock.run(generations.walk("AAA", "sell", read));
    expect(walk.generation).toBe(2);
    expect(walk.found.map((o) => o.clientOrderId)).toEqual([idOf(1)]);
    expect(walk.uncounted).toBeUndefined();
    expect(lookups()).toBe(1);
  });

  it("blocks a new send on top of a working order the plan did not count", async () => {
    const { clock, generations, adopted, workingSell, lookups } = setup();
    const read: PlannedRead = { openOrders: [], positions: [], readAt: clock.now() };
    await workingSell(0); // the read above missed it
    const next = await clock.run(generations.next("AAA", "sell", read));
    expect(next).toEqual({ kind: "blocked", uncounted: idOf(0) });
    expect(lookups()).toBe(2);
    // It is adopted all the same: the run follows it to its final state.
    expect(adopted.map((a) => a.map((o) => o.clientOrderId))).toEqual([[idOf(0)]]);
  });

  it("does not block an order sized on reads made after every earlier order", async () => {
    const { clock, generations, workingSell } = setup();
    await workingSell(0);
    expect(await clock.run(generations.next("AAA", "sell", undefined))).toEqual({
      kind: "free",
      generation: 1,
    });
  });

  it("blocks on a fill after the plan's read", async () => {
    const { clock, generations, filledSell, readNow } = setup();
    const read = await readNow();
    await clock.advance(1_000);
    await filledSell(0);
    expect(await clock.run(generations.next("AAA", "sell", read))).toEqual({
      kind: "blocked",
      uncounted: idOf(0),
    });
  });

  it("tells a fill stamped before the read by the position: unchanged counts, changed does not", async () => {
    const counted = setup();
    await counted.filledSell(0);
    await counted.clock.advance(1_000);
    // The read came after the fill, and the position shows it.
    const after = await counted.readNow();
    expect(await counted.clock.run(counted.generations.next("AAA", "sell", after))).toEqual({
      kind: "free",
      generation: 1,
    });
    expect(counted.broker.calls.getPosition).toBe(1);

    const uncounted = setup();
    await uncounted.filledSell(0);
    await uncounted.clock.advance(1_000);
    const stale = await uncounted.readNow();
    // The read's positions predate the fill (a lagging read): the position moved since.
    const lagging: PlannedRead = { ...stale, positions: [{ ...stale.positions[0]!, qty: new Decimal(10) }] };
    expect(await uncounted.clock.run(uncounted.generations.next("AAA", "sell", lagging))).toEqual({
      kind: "blocked",
      uncounted: idOf(0),
    });
  });

  it("throws the abort reason when the signal aborts a lookup", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({ clock, prices: { AAA: 100 }, latency: { restMs: 50 } });
    const controller = new AbortController();
    const generations = new ResumeGenerations({
      runId: RUN,
      broker,
      signal: controller.signal,
      adopt: async () => {},
    });
    clock.schedule(10, () => controller.abort(new Error("stop")));
    await expect(clock.run(generations.next("AAA", "sell", undefined))).rejects.toThrow("stop");
  });
});
