import {
  BrokerError,
  type BrokerPort,
  clientOrderId,
  Decimal,
  type OrderSide,
  type OrderSnapshot,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
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
  const generations = new ResumeGenerations({ runId: RUN, broker });
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
  const lookups = () => broker.calls.getOrderByClientOrderId;
  return { clock, broker, generations, filledSell, workingSell, lookups };
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
  it("hands out generation 0, 1, 2… of a pair with no call when nothing was learned", () => {
    const { generations, lookups } = setup();
    expect(generations.take("AAA", "sell")).toBe(0);
    expect(generations.take("AAA", "sell")).toBe(1);
    // Another side is another pair.
    expect(generations.take("AAA", "buy")).toBe(0);
    expect(lookups()).toBe(0);
  });

  it("goes past every generation an earlier attempt used, returning its orders", async () => {
    const { clock, generations, filledSell, lookups } = setup();
    await filledSell(0);
    await filledSell(1);
    const found = await clock.run(generations.learnEarlier(["AAA"], 2));
    expect(found.map((o) => o.clientOrderId)).toEqual([idOf(0), idOf(1)]);
    expect(generations.take("AAA", "sell")).toBe(2);
    expect(generations.take("AAA", "buy")).toBe(0);
    // Every generation of both sides is looked up: a gap does not end the walk.
    expect(lookups()).toBe(2 * MAX_GENERATIONS);
  });

  it("goes past a gap left by a generation refused at submit", async () => {
    const { clock, generations, workingSell } = setup();
    // Generation 0 was refused (never placed); the resized retry took generation 1.
    await workingSell(1);
    const found = await clock.run(generations.learnEarlier(["AAA"], 1));
    expect(found.map((o) => o.clientOrderId)).toEqual([idOf(1)]);
    expect(generations.take("AAA", "sell")).toBe(2);
  });

  it("reuses the id of a lookup that failed past the last order found, never skipping it", async () => {
    const { clock, broker, filledSell } = setup();
    await filledSell(0);
    await filledSell(1);
    // The lookup of generation 1 fails: the broker could not say whether it exists.
    const port: BrokerPort = Object.create(broker);
    const original = broker.getOrderByClientOrderId.bind(broker);
    port.getOrderByClientOrderId = (id, opts) =>
      id === idOf(1) ? Promise.reject(new BrokerError("unavailable", "down")) : original(id, opts);
    const flaky = new ResumeGenerations({ runId: RUN, broker: port });
    const found = await clock.run(flaky.learnEarlier(["AAA"], 1));
    expect(found.map((o) => o.clientOrderId)).toEqual([idOf(0)]);
    // Generation 1 may exist: the next order takes its id and is refused as a duplicate (then
    // recovered) rather than leaving a gap a later resume would have to cross.
    expect(flaky.take("AAA", "sell")).toBe(1);
  });

  it("learns this run's orders among orders read elsewhere, ignoring others'", async () => {
    const { clock, broker, generations, workingSell } = setup();
    await workingSell(2);
    await clock.run(
      broker.submitOrder({
        clientOrderId: "someone-else",
        symbol: "AAA",
        side: "sell",
        type: "limit",
        timeInForce: "day",
        qty: new Decimal(1),
        limitPrice: new Decimal(300),
      }),
    );
    const open = await clock.run(broker.listOpenOrders());
    expect(generations.learnFound(open).map((o) => o.clientOrderId)).toEqual([idOf(2)]);
    expect(generations.take("AAA", "sell")).toBe(3);
  });

  it("goes past the generation an order of the run ended with (a resized retry)", () => {
    const { generations } = setup();
    expect(generations.take("AAA", "sell")).toBe(0);
    generations.noteUsed({ clientOrderId: idOf(3), symbol: "AAA", side: "sell" });
    expect(generations.take("AAA", "sell")).toBe(4);
  });

  it("refuses a generation past the last one", () => {
    const { generations } = setup();
    for (let g = 0; g < MAX_GENERATIONS; g++) expect(generations.take("AAA", "sell")).toBe(g);
    expect(generations.take("AAA", "sell")).toBeUndefined();
  });
});
