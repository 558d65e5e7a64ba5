// Bad-input fuzzing: random malformed targets, options and broker payloads must end in a
// typed error (ValidationError `validation`, or BrokerError `protocol`) with nothing sent.

import fc from "fast-check";
import {
  type BrokerPort,
  isOrdersafeError,
  isValidationError,
  type RebalanceReport,
  SmartRebalancer,
} from "ordersafe";
import { createSimulatedBroker, type SimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

const NUM_RUNS = 200;

function setup() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 3,
    cash: 1_000,
    positions: { AAA: 10, BBB: 5 },
    prices: { AAA: 20, BBB: 40, CCC: 10 },
    latency: { restMs: 5, fillMs: 20 },
  });
  return { clock, broker };
}

function nothingSent(broker: SimulatedBroker): void {
  expect(broker.calls.submitOrder).toBe(0);
  expect(broker.calls.cancelOrder).toBe(0);
  expect(broker.calls.closePosition).toBe(0);
  expect(broker.orders()).toHaveLength(0);
}

/** A value no decimal parser should take. */
const badNumber = fc.oneof(
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, -0.5),
  fc.constantFrom("abc", "", "--1", "0x1g", " ", "NaN", "1,5"),
  fc.constantFrom(null, true, {}, [], [1]),
);
const badSymbol = fc.constantFrom("", " ", "aa a", "$AAA", "-AAA", "A".repeat(40), "AAA\n", "ÄÄÄ");
const goodSymbol = fc.constantFrom("AAA", "BBB", "CCC");

/** Targets that are malformed in one way or another. */
const badTargets: fc.Arbitrary<unknown> = fc.oneof(
  // not an object at all
  fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.constant(undefined), fc.array(fc.integer())),
  // a weight that is not a number in [0, 1]
  fc.record({ weights: fc.dictionary(goodSymbol, fc.oneof(badNumber, fc.constant(1.5)), { minKeys: 1 }) }),
  // a bad symbol
  fc.record({
    weights: fc.tuple(badSymbol, fc.double({ min: 0, max: 0.5, noNaN: true })).map(([s, w]) => ({ [s]: w })),
  }),
  // weights summing above 1
  fc
    .tuple(fc.double({ min: 0.51, max: 1, noNaN: true }), fc.double({ min: 0.51, max: 1, noNaN: true }))
    .map(([a, b]) => ({ weights: { AAA: a, BBB: b } })),
  // two kinds of target at once, or none
  fc.constant({ weights: { AAA: 0.5 }, quantities: { BBB: 1 } }),
  fc.constant({}),
  // an unknown key
  fc
    .string({ minLength: 1 })
    .filter((k) => !["weights", "quantities", "notionals"].includes(k))
    .map((k) => ({ weights: { AAA: 0.1 }, [k]: 1 })),
  // negative or malformed quantities and notionals
  fc.record({ quantities: fc.dictionary(goodSymbol, badNumber, { minKeys: 1 }) }),
  fc.record({ notionals: fc.dictionary(goodSymbol, badNumber, { minKeys: 1 }) }),
);

const badConstructorOptions: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({
    concurrency: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 65 }), fc.constant(1.5), badNumber),
  }),
  fc.record({ maxRetries: fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: 21 }), fc.constant("3")) }),
  fc.record({ correctionMode: fc.string().filter((s) => !["report", "approve", "auto"].includes(s)) }),
  fc.record({ finalTimeoutMs: fc.oneof(fc.integer({ max: 0 }), fc.constant(Number.NaN)) }),
  fc.record({
    planner: fc.constantFrom({ nope: 1 }, { cashBuffer: 2 }, { cashBuffer: -1 }, { buyWith: "shares" }),
  }),
  fc.record({ tracker: fc.constantFrom({ quietAfterMs: 0 }, { extra: true }, { maxStatusChecks: -1 }) }),
  fc
    .string({ minLength: 1 })
    .filter((k) => !["broker", "clock", "logger", "seed"].includes(k) && !(k in Object.prototype))
    .map((k) => ({ [`x_${k}`]: 1 })),
);

const badRunOptions: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({
    runId: fc.oneof(fc.constant(""), fc.constant("a".repeat(65)), fc.constantFrom("a b", "r/1", "ä", "x\n")),
  }),
  fc.record({ dryRun: fc.constantFrom("yes", 1, null) }),
  fc.record({ signal: fc.constantFrom(1, "s", {}) }),
  fc.constant({ unknown: true }),
);

async function expectTyped(
  clock: VirtualClock,
  work: () => Promise<RebalanceReport>,
  codes: readonly string[],
): Promise<void> {
  let outcome: unknown;
  try {
    const report = await clock.run(work());
    outcome = report;
    // A report is acceptable only as a failure naming a typed error.
    expect(report.status).toBe("failed");
    expect(codes).toContain(report.error?.code);
  } catch (e) {
    outcome = e;
    expect(isOrdersafeError(e)).toBe(true);
    expect(codes).toContain((e as { code: string }).code);
  }
  expect(outcome).toBeDefined();
}

describe("bad input fuzzing", () => {
  it("malformed targets: ValidationError before any broker call", async () => {
    await fc.assert(
      fc.asyncProperty(badTargets, async (targets) => {
        const { clock, broker } = setup();
        const rebalancer = new SmartRebalancer({ broker, clock });
        const error = await clock.run(rebalancer.rebalance(targets as never)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isValidationError(error)).toBe(true);
        expect(broker.totalCalls()).toBe(0);
        nothingSent(broker);
      }),
      { numRuns: NUM_RUNS, seed: 7 },
    );
  });

  it("malformed options: ValidationError from the constructor and from rebalance, nothing sent", async () => {
    await fc.assert(
      fc.asyncProperty(badConstructorOptions, badRunOptions, async (options, runOptions) => {
        const { clock, broker } = setup();
        expect(() => new SmartRebalancer({ broker, clock, ...options } as never)).toThrowError(
          expect.objectContaining({ code: "validation" }),
        );
        const rebalancer = new SmartRebalancer({ broker, clock });
        const error = await clock
          .run(rebalancer.rebalance({ weights: { AAA: 0.5 } }, runOptions as never))
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(isValidationError(error)).toBe(true);
        expect(broker.totalCalls()).toBe(0);
        nothingSent(broker);
      }),
      { numRuns: NUM_RUNS, seed: 8 },
    );
  });

  it("executeRebalance with a bad symbol or quantity: ValidationError, nothing sent", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(badSymbol, fc.constant<unknown>(1), fc.constant<unknown>(2)),
          fc.tuple(
            goodSymbol,
            badNumber.filter((v) => v !== -1 && v !== -0.5),
            fc.constant<unknown>(2),
          ),
          fc.tuple(goodSymbol, fc.constant<unknown>(1), fc.oneof(badNumber, fc.constant(-3))),
        ),
        async ([symbol, current, target]) => {
          const { clock, broker } = setup();
          const rebalancer = new SmartRebalancer({ broker, clock });
          const error = await clock
            .run(rebalancer.executeRebalance(symbol as string, current as never, target as never))
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          expect(isValidationError(error)).toBe(true);
          nothingSent(broker);
        },
      ),
      { numRuns: NUM_RUNS, seed: 9 },
    );
  });

  type Corruptible =
    | "getAccount"
    | "getPositions"
    | "getLatestPrices"
    | "getAssets"
    | "getClock"
    | "listOpenOrders";
  const corruption: fc.Arbitrary<{ method: Corruptible; mutate: (v: unknown) => unknown; label: string }> =
    fc.oneof(
      fc
        .tuple(
          fc.constantFrom("cash", "buyingPower", "equity"),
          badNumber.filter((v) => !(typeof v === "number" && Number.isFinite(v))),
        )
        .map(([field, value]) => ({
          method: "getAccount" as const,
          label: `account.${field}=${String(value)}`,
          mutate: (a: unknown) => ({ ...(a as object), [field]: value }),
        })),
      fc
        .constantFrom(
          { field: "currency", value: "" },
          { field: "tradingBlocked", value: "no" },
          { field: "asOf", value: "yesterday" },
        )
        .map(({ field, value }) => ({
          method: "getAccount" as const,
          label: `account.${field}`,
          mutate: (a: unknown) => ({ ...(a as object), [field]: value }),
        })),
      fc.constantFrom<unknown>(null, 42, "positions", { AAA: 1 }).map((value) => ({
        method: "getPositions" as const,
        label: `positions=${JSON.stringify(value)}`,
        mutate: () => value,
      })),
      fc
        .oneof(
          fc.tuple(
            fc.constantFrom("qty", "qtyAvailable"),
            badNumber.filter((v) => !(typeof v === "number" && Number.isFinite(v) && v >= 0)),
          ),
          fc.tuple(fc.constant("symbol"), badSymbol),
        )
        .map(([field, value]) => ({
          method: "getPositions" as const,
          label: `position.${field}=${String(value)}`,
          mutate: (ps: unknown) =>
            (ps as Record<string, unknown>[]).map((p, i) => (i === 0 ? { ...p, [field]: value } : p)),
        })),
      fc.constant({
        method: "getPositions" as const,
        label: "position.qtyAvailable above qty",
        mutate: (ps: unknown) =>
          (ps as { qty: { plus(n: number): unknown } }[]).map((p, i) =>
            i === 0 ? { ...p, qtyAvailable: p.qty.plus(1) } : p,
          ),
      }),
      fc.constantFrom<unknown>(-1, 0, "x", Number.NaN, null).map((value) => ({
        method: "getLatestPrices" as const,
        label: `price=${String(value)}`,
        mutate: (m: unknown) =>
          new Map([...(m as Map<string, unknown>)].map(([k, v], i) => [k, i === 0 ? value : v])),
      })),
      fc
        .constantFrom<[string, unknown]>(
          ["qtyIncrement", 0],
          ["qtyIncrement", -1],
          ["tradable", "yes"],
          ["fractionable", 1],
          ["symbol", ""],
        )
        .map(([field, value]) => ({
          method: "getAssets" as const,
          label: `asset.${field}=${String(value)}`,
          mutate: (as: unknown) =>
            (as as Record<string, unknown>[]).map((a, i) => (i === 0 ? { ...a, [field]: value } : a)),
        })),
      fc
        .constantFrom<[string, unknown]>(["isOpen", "yes"], ["nextOpen", "soon"], ["asOf", null])
        .map(([field, value]) => ({
          method: "getClock" as const,
          label: `clock.${field}`,
          mutate: (c: unknown) => ({ ...(c as object), [field]: value }),
        })),
      fc
        .constantFrom<unknown>(
          [{ id: "", clientOrderId: "x", symbol: "AAA", side: "sell" }],
          [
            {
              id: "1",
              clientOrderId: "c",
              symbol: "AAA",
              side: "sideways",
              type: "market",
              timeInForce: "day",
              qty: 1,
              filledQty: 0,
              status: "new",
              updatedAt: new Date(),
            },
          ],
          [
            {
              id: "1",
              clientOrderId: "c",
              symbol: "AAA",
              side: "sell",
              type: "market",
              timeInForce: "day",
              qty: 1,
              filledQty: 2,
              status: "new",
              updatedAt: new Date(),
            },
          ],
          "orders",
        )
        .map((value) => ({ method: "listOpenOrders" as const, label: "open orders", mutate: () => value })),
    );

  it("a port returning malformed snapshots: BrokerError protocol, zero orders sent", async () => {
    await fc.assert(
      fc.asyncProperty(corruption, async ({ method, mutate }) => {
        const { clock, broker } = setup();
        const port: BrokerPort = Object.create(broker);
        const original = (broker[method] as (...a: unknown[]) => Promise<unknown>).bind(broker);
        (port as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) =>
          mutate(await original(...args));
        const rebalancer = new SmartRebalancer({ broker: port, clock });
        await expectTyped(clock, () => rebalancer.rebalance({ weights: { AAA: 0.2, CCC: 0.5 } }), [
          "protocol",
        ]);
        nothingSent(broker);
      }),
      { numRuns: NUM_RUNS, seed: 10 },
    );
  });

  it("a protocol error is a BrokerError with code protocol, not retried", async () => {
    const { clock, broker } = setup();
    const port: BrokerPort = Object.create(broker);
    let calls = 0;
    port.getAccount = async () => {
      calls++;
      return { cash: "NaN" } as never;
    };
    const report = await clock.run(
      new SmartRebalancer({ broker: port, clock }).rebalance({ weights: { AAA: 1 } }),
    );
    expect(report.status).toBe("failed");
    expect(report.error?.code).toBe("protocol");
    expect(calls).toBe(1);
    nothingSent(broker);
  });
});
