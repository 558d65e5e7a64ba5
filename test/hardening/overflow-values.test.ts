// A value that overflows ("1e9999999999999999" reads as Infinity in decimal.js) is refused
// wherever it comes in: as input, a ValidationError naming the path; as a broker reply, a
// BrokerError("protocol"). Nothing downstream (a sell check, a plan, a ledger, drift) ever
// sees a non-finite number.

import {
  type BrokerPort,
  calculateRebalanceOrders,
  checkBroker,
  Decimal,
  detectPositionDrift,
  isBrokerError,
  isValidationError,
  PreOrderValidator,
  ReservationLedger,
  toDecimal,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { baseInput } from "../rebalance/fixtures.js";

const OVERFLOWS = [
  "1e9999999999999999",
  "-1e9999999999999999",
  "1E+9999999999999999",
  " 1e9999999999999999 ",
  "1e9000000000000000",
  "1e1000000001",
] as const;

/** The issue paths of a ValidationError thrown by `f`; fails when `f` throws anything else. */
function validationPaths(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    expect(isValidationError(e)).toBe(true);
    return (e as { issues: { path: string }[] }).issues.map((i) => i.path);
  }
  throw new Error("expected a ValidationError");
}

/** A port that answers position reads with `qty` (an adapter gone wrong); all else from `inner`. */
function positionsReading(inner: BrokerPort, qty: string): BrokerPort {
  const position = (symbol: string) => ({ symbol, qty, qtyAvailable: qty });
  return Object.assign(Object.create(inner) as BrokerPort, {
    getPosition: async (symbol: string) => position(symbol),
    getPositions: async () => [position("AAA")],
  });
}

describe("overflow values", () => {
  it.each(OVERFLOWS)("toDecimal refuses %j with a ValidationError naming the path", (s) => {
    expect(validationPaths(() => toDecimal(s, "targets.weights.AAA"))).toEqual(["targets.weights.AAA"]);
  });

  it("toDecimal still reads large and tiny finite values inside the exponent bound", () => {
    expect(toDecimal("1e400").toString()).toBe("1e+400");
    expect(toDecimal("1e-1000000000").isZero()).toBe(false);
    expect(toDecimal("1e-9999999999999999").isZero()).toBe(true);
  });

  it("a Decimal instance past the exponent bound is refused as well", () => {
    expect(validationPaths(() => toDecimal(new Decimal("1e9000000000000000"), "qty"))).toEqual(["qty"]);
  });

  it("PreOrderValidator refuses an overflowing position reply as protocol instead of approving a sell of 1000", async () => {
    const clock = new VirtualClock();
    const sim = createSimulatedBroker({ clock, positions: { AAA: 5 }, prices: { AAA: 10 } });
    const validator = new PreOrderValidator({ broker: positionsReading(sim, "1e9999999999999999") });
    const run = validator.validate({
      symbol: "AAA",
      side: "sell",
      qty: 1000,
      type: "market",
      timeInForce: "day",
    });
    const error = await clock.run(run.catch((e: unknown) => e));
    expect(isBrokerError(error, "protocol")).toBe(true);
    expect(sim.calls.submitOrder).toBe(0);
  });

  it("a checked port refuses an overflowing position reply as protocol", async () => {
    const sim = createSimulatedBroker({ positions: { AAA: 5 }, prices: { AAA: 10 } });
    const port = checkBroker(positionsReading(sim, "1e9999999999999999"));
    await expect(port.getPositions()).rejects.toMatchObject({ code: "protocol" });
    await expect(port.getPosition("AAA")).rejects.toMatchObject({ code: "protocol" });
  });

  it.each(OVERFLOWS)(
    "the planner refuses %j as a weight, a price, a position and equity, naming the path",
    (s) => {
      expect(
        validationPaths(() => calculateRebalanceOrders(baseInput({ targets: { weights: { AAA: s } } }))),
      ).toContain("rebalance.targets.weights.AAA");
      expect(
        validationPaths(() => calculateRebalanceOrders(baseInput({ prices: { AAA: s, BBB: "20" } }))),
      ).toContain("rebalance.prices.AAA");
      expect(
        validationPaths(() =>
          calculateRebalanceOrders(baseInput({ positions: [{ symbol: "AAA", qty: s, qtyAvailable: s }] })),
        ),
      ).toContain("rebalance.positions[0].qty");
      expect(
        validationPaths(() => calculateRebalanceOrders(baseInput({ account: { equity: s, cash: "1000" } }))),
      ).toContain("rebalance.account.equity");
    },
  );

  it.each(OVERFLOWS)("the reservation ledger refuses to reserve %j", (s) => {
    const ledger = new ReservationLedger();
    expect(validationPaths(() => ledger.reserve("k", s, new Date(0)))).toContain("reserve.amount");
    expect(ledger.size).toBe(0);
  });

  it.each(OVERFLOWS)("drift detection refuses %j as an expected or actual quantity or a price", (s) => {
    // A map or a record is accepted: the issue names the argument.
    expect(validationPaths(() => detectPositionDrift({ AAA: s }, { AAA: 5 }))[0]).toMatch(/^expected/);
    expect(validationPaths(() => detectPositionDrift({ AAA: 5 }, { AAA: s }))[0]).toMatch(/^actual/);
    expect(() => detectPositionDrift({ AAA: 5 }, { AAA: 4 }, { prices: { AAA: s } })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
  });
});
