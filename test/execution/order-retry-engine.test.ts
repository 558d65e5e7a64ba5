import fc from "fast-check";
import {
  BROKER_ERROR_CODES,
  BrokerError,
  clientOrderId,
  createRandom,
  Decimal,
  ORDER_RETRY_ENGINE_DEFAULTS,
  type OrderIntent,
  OrderRetryEngine,
  toRequest,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

const RUN = "test-run";

function setup(opts: Parameters<typeof createSimulatedBroker>[0] = {}, engine: Record<string, unknown> = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    prices: { AAA: 100, BBB: 50 },
    positions: { BBB: 10 },
    latency: { restMs: 10, fillMs: 50 },
    ...opts,
  });
  const retry = new OrderRetryEngine({ broker, clock, seed: 7, ...engine });
  return { clock, broker, retry };
}

const buy = (qty: number | string, symbol = "AAA"): OrderIntent => ({
  symbol,
  side: "buy",
  qty: new Decimal(qty),
  type: "market",
  timeInForce: "day",
});
const sell = (qty: number | string, symbol = "BBB"): OrderIntent => ({ ...buy(qty, symbol), side: "sell" });

describe("OrderRetryEngine.classify", () => {
  const { retry } = setup();
  it("maps every broker error code to a decision", () => {
    const expected: Record<string, string> = {
      unavailable: "retry",
      ambiguous: "lookup",
      rate_limited: "retry",
      insufficient_buying_power: "resize_buy",
      insufficient_quantity: "cap_sell",
      wash_trade: "cancel_conflicts",
      duplicate_client_order_id: "adopt",
      // A submit answered with an unreadable reply reached the broker: the order may exist.
      protocol: "lookup",
    };
    for (const code of BROKER_ERROR_CODES) {
      const d = retry.classify(new BrokerError(code, "x"));
      expect(d.code).toBe(code);
      expect(d.action).toBe(expected[code] ?? "fail");
    }
  });

  it("waits retryAfterMs for rate limits", () => {
    expect(retry.classify(new BrokerError("rate_limited", "slow", { retryAfterMs: 1234 })).delayMs).toBe(
      1234,
    );
  });

  it("fails on errors that are not broker errors", () => {
    expect(retry.classify(new Error("boom"))).toMatchObject({ action: "fail", code: "unknown" });
  });

  it("backs off with seeded jitter, growing and bounded", () => {
    const a = new OrderRetryEngine({ broker: setup().broker, seed: 3, baseDelayMs: 100, maxDelayMs: 1000 });
    const b = new OrderRetryEngine({ broker: setup().broker, seed: 3, baseDelayMs: 100, maxDelayMs: 1000 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 }), (attempt) => {
        const da = a.classify(new BrokerError("unavailable", "x"), attempt).delayMs;
        const db = b.classify(new BrokerError("unavailable", "x"), attempt).delayMs;
        const cap = Math.min(1000, 100 * 2 ** attempt);
        expect(da).toBe(db);
        expect(da).toBeGreaterThanOrEqual(cap / 2 - 1);
        expect(da).toBeLessThanOrEqual(cap + 1);
      }),
      { numRuns: 300 },
    );
  });

  it("draws the same delays as its equal-jitter formula, exponent capped at 20", () => {
    // The formula the engine has always used, written out: min(max, base × 2^min(n, 20)), then
    // half fixed and half seeded-random, rounded. One draw per delay.
    const reference = (seed: number, base: number, max: number) => {
      const random = createRandom(seed);
      return (attempt: number) => {
        const exp = Math.min(max, base * 2 ** Math.min(attempt, 20));
        return Math.round(exp / 2 + (exp / 2) * random());
      };
    };
    const { broker } = setup();
    fc.assert(
      fc.property(
        fc.integer(),
        fc.oneof(fc.double({ min: 0, max: 10, noNaN: true }), fc.integer({ min: 0, max: 600_000 })),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 20 }),
        (seed, baseDelayMs, maxDelayMs, attempts) => {
          const engine = new OrderRetryEngine({ broker, seed, baseDelayMs, maxDelayMs });
          const expected = reference(seed, baseDelayMs, maxDelayMs);
          for (const n of attempts) {
            expect(engine.classify(new BrokerError("ambiguous", "x"), n).delayMs).toBe(expected(n));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("defaults to ORDER_RETRY_ENGINE_DEFAULTS", () => {
    const engine = new OrderRetryEngine({ broker: setup().broker });
    const { baseDelayMs, maxDelayMs } = ORDER_RETRY_ENGINE_DEFAULTS;
    const first = engine.classify(new BrokerError("unavailable", "x"), 0).delayMs;
    expect(first).toBeGreaterThanOrEqual(baseDelayMs / 2);
    expect(first).toBeLessThanOrEqual(baseDelayMs);
    expect(engine.classify(new BrokerError("unavailable", "x"), 20).delayMs).toBeGreaterThanOrEqual(
      maxDelayMs / 2,
    );
    expect(engine.classify(new BrokerError("unavailable", "x"), 20).delayMs).toBeLessThanOrEqual(maxDelayMs);
  });

  it("rejects unknown options", () => {
    expect(() => new OrderRetryEngine({ broker: setup().broker, nope: 1 } as never)).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
  });
});

describe("OrderRetryEngine.executeWithRetry", () => {
  it("retries an unavailable submit under the same client order id", async () => {
    const { clock, broker, retry } = setup();
    broker.script({ kind: "unavailable", method: "submitOrder", times: 2 });
    const r = await clock.run(retry.executeWithRetry(buy(1), { runId: RUN }));
    expect(r.ok).toBe(true);
    expect(r.attempts).toBe(3);
    expect(r.clientOrderId).toBe(clientOrderId({ runId: RUN, symbol: "AAA", side: "buy", generation: 0 }));
    expect(broker.orders()).toHaveLength(1);
  });

  it("looks an ambiguous submit up and adopts the order instead of sending it twice", async () => {
    const { clock, broker, retry } = setup();
    broker.script({ kind: "ambiguous", method: "submitOrder" });
    const r = await clock.run(retry.executeWithRetry(buy(1), { runId: RUN }));
    expect(r).toMatchObject({ ok: true, recovered: true, attempts: 1 });
    expect(broker.orders()).toHaveLength(1);
    expect(broker.calls.getOrderByClientOrderId).toBeGreaterThanOrEqual(1);
  });

  it("waits retryAfterMs on the clock for a rate limit", async () => {
    const { clock, broker, retry } = setup();
    broker.script({ kind: "rate_limited", method: "submitOrder", retryAfterMs: 5_000 });
    const start = clock.now();
    const r = await clock.run(retry.executeWithRetry(buy(1), { runId: RUN }));
    expect(r.ok).toBe(true);
    expect(clock.now() - start).toBeGreaterThanOrEqual(5_000);
  });

  it("resizes a buy refused for buying power under the next generation's id", async () => {
    const { clock, retry } = setup({ cash: 1_000 });
    const r = await clock.run(retry.executeWithRetry(buy(50), { runId: RUN }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.generation).toBe(1);
    expect(r.clientOrderId).toBe(clientOrderId({ runId: RUN, symbol: "AAA", side: "buy", generation: 1 }));
    // 1000 / (100 × 1.03) = 9.7…, on the asset's increment
    expect(r.intent.qty?.lte(new Decimal("9.71"))).toBe(true);
    expect(r.intent.qty?.gt(9)).toBe(true);
    expect(r.adjustments[0]).toContain("insufficient_buying_power");
  });

  it("caps a sell refused for quantity at what is available", async () => {
    const { clock, retry } = setup();
    const r = await clock.run(retry.executeWithRetry(sell(15), { runId: RUN }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.intent.qty?.toString()).toBe("10");
    expect(r.generation).toBe(1);
  });

  it("cancels a conflicting opposite-side order, confirms, and retries", async () => {
    const { clock, broker, retry } = setup({ marketOpen: true });
    // A resting limit sell that will not fill conflicts with a buy.
    await clock.run(
      broker.submitOrder({
        clientOrderId: "outside-1",
        symbol: "BBB",
        side: "sell",
        type: "limit",
        timeInForce: "day",
        qty: new Decimal(1),
        limitPrice: new Decimal(500),
      }),
    );
    const r = await clock.run(retry.executeWithRetry(buy(1, "BBB"), { runId: RUN }));
    expect(r.ok).toBe(true);
    const conflicting = broker.orders().find((o) => o.clientOrderId === "outside-1");
    expect(conflicting?.status).toBe("canceled");
    expect(broker.calls.cancelOrder).toBe(1);
  });

  it("fails without retry on a definitive refusal", async () => {
    const { clock, retry } = setup();
    const r = await clock.run(retry.executeWithRetry(buy(1, "ZZZ"), { runId: RUN }));
    expect(r).toMatchObject({ ok: false, code: "invalid_order", attempts: 1, unresolved: false });
  });

  it("gives up after maxRetries", async () => {
    const { clock, broker, retry } = setup({}, { maxRetries: 2 });
    broker.script({ kind: "unavailable", method: "submitOrder", times: 10 });
    const r = await clock.run(retry.executeWithRetry(buy(1), { runId: RUN }));
    expect(r).toMatchObject({ ok: false, code: "unavailable", attempts: 3 });
    expect(broker.orders()).toHaveLength(0);
  });

  it("opens the circuit breaker after the failure budget and refuses without calling the broker", async () => {
    const { clock, broker, retry } = setup({}, { failureBudget: 3 });
    const halted: number[] = [];
    retry.on("halted", (i) => halted.push(i.consecutiveFailures));
    for (let i = 0; i < 3; i++) {
      await clock.run(retry.executeWithRetry(buy(1, "ZZZ"), { runId: `${RUN}${i}` }));
    }
    expect(retry.halted).toBe(true);
    expect(halted).toEqual([3]);
    const before = broker.calls.submitOrder;
    const r = await clock.run(retry.executeWithRetry(buy(1), { runId: RUN }));
    expect(r).toMatchObject({ ok: false, code: "halted", attempts: 0 });
    expect(broker.calls.submitOrder).toBe(before);
    retry.reset();
    expect(retry.halted).toBe(false);
    const ok = await clock.run(retry.executeWithRetry(buy(1), { runId: RUN }));
    expect(ok.ok).toBe(true);
  });

  it("a success clears the consecutive failure count", async () => {
    const { clock, retry } = setup({}, { failureBudget: 2 });
    await clock.run(retry.executeWithRetry(buy(1, "ZZZ"), { runId: "a" }));
    await clock.run(retry.executeWithRetry(buy(1), { runId: "b" }));
    await clock.run(retry.executeWithRetry(buy(1, "ZZZ"), { runId: "c" }));
    expect(retry.halted).toBe(false);
    expect(retry.consecutiveFailures).toBe(1);
  });

  it("makes a run id when none is given, distinct per call", async () => {
    const { clock, broker, retry } = setup();
    const a = await clock.run(retry.executeWithRetry(buy(1), { maxRetries: 3 }));
    const b = await clock.run(retry.executeWithRetry(buy(1)));
    expect(a.ok && b.ok).toBe(true);
    expect(a.clientOrderId).not.toBe(b.clientOrderId);
    expect(broker.orders()).toHaveLength(2);
  });

  it("takes the next id when the one it was given was used by an order refused outright", async () => {
    const { clock, broker, retry } = setup();
    const first = clientOrderId({ runId: RUN, symbol: "AAA", side: "buy", generation: 0 });
    broker.script({ kind: "reject_after_accept", reason: "risk check" });
    await clock.run(broker.submitOrder({ ...toRequest(buy(1), first) }));
    await clock.runUntilIdle();
    expect(broker.orders()[0]?.status).toBe("rejected");
    const r = await clock.run(retry.executeWithRetry(buy(1), { runId: RUN }));
    expect(r).toMatchObject({ ok: true, recovered: false, generation: 1, attempts: 2 });
    expect(r.clientOrderId).toBe(clientOrderId({ runId: RUN, symbol: "AAA", side: "buy", generation: 1 }));
    expect(r.adjustments).toEqual([`client order id ${first} was used by a rejected order`]);
  });

  it("an ambiguous submit whose lookups all fail is unresolved and does not count as a failure", async () => {
    const { clock, broker, retry } = setup();
    broker.script({ kind: "ambiguous", method: "submitOrder" });
    broker.script({ kind: "unavailable", method: "getOrderByClientOrderId", times: 3 });
    const r = await clock.run(retry.executeWithRetry(buy(1), { runId: RUN }));
    expect(r).toMatchObject({ ok: false, code: "ambiguous", unresolved: true, attempts: 1 });
    expect(broker.calls.getOrderByClientOrderId).toBe(3);
    expect(broker.calls.submitOrder).toBe(1);
    expect(retry.consecutiveFailures).toBe(0);
  });

  it("throws the abort reason when the signal aborts", async () => {
    const { clock, broker, retry } = setup();
    broker.script({ kind: "rate_limited", method: "submitOrder", retryAfterMs: 10_000 });
    const ac = new AbortController();
    clock.schedule(1_000, () => ac.abort(new Error("stop")));
    await expect(
      clock.run(retry.executeWithRetry(buy(1), { runId: RUN, signal: ac.signal })),
    ).rejects.toThrow("stop");
  });
});
