import {
  BUYING_POWER_MANAGER_DEFAULTS,
  BuyingPowerManager,
  DEFAULT_MARKET_BUY_BUFFER,
  type OrderIntentInput,
  PRE_ORDER_VALIDATOR_DEFAULTS,
  PreOrderValidator,
  RESERVATION_LEDGER_DEFAULTS,
  ReservationLedger,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

function world() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({ clock, cash: 10_000, prices: { TECL: 50 } });
  return { clock, broker };
}

describe("the funds services' defaults", () => {
  it("are frozen objects", () => {
    for (const d of [
      RESERVATION_LEDGER_DEFAULTS,
      BUYING_POWER_MANAGER_DEFAULTS,
      PRE_ORDER_VALIDATOR_DEFAULTS,
    ]) {
      expect(Object.isFrozen(d)).toBe(true);
    }
    expect(RESERVATION_LEDGER_DEFAULTS.marketBuyBuffer.eq(DEFAULT_MARKET_BUY_BUFFER)).toBe(true);
  });

  it("a ledger without options takes RESERVATION_LEDGER_DEFAULTS", () => {
    const ledger = new ReservationLedger();
    expect(ledger.fundingBasis).toBe(RESERVATION_LEDGER_DEFAULTS.fundingBasis);
    expect(ledger.marketBuyBuffer.eq(RESERVATION_LEDGER_DEFAULTS.marketBuyBuffer)).toBe(true);
    expect(ledger.driftTolerance.eq(RESERVATION_LEDGER_DEFAULTS.driftTolerance)).toBe(true);
    expect(ledger.pendingGraceMs).toBe(RESERVATION_LEDGER_DEFAULTS.pendingGraceMs);
  });

  it("a manager without options gives its ledger BUYING_POWER_MANAGER_DEFAULTS", () => {
    const { clock, broker } = world();
    const { ledger } = new BuyingPowerManager({ broker, clock });
    expect(ledger.fundingBasis).toBe(BUYING_POWER_MANAGER_DEFAULTS.fundingBasis);
    expect(ledger.marketBuyBuffer.eq(BUYING_POWER_MANAGER_DEFAULTS.marketBuyBuffer)).toBe(true);
    expect(ledger.driftTolerance.eq(BUYING_POWER_MANAGER_DEFAULTS.driftTolerance)).toBe(true);
    expect(ledger.pendingGraceMs).toBe(BUYING_POWER_MANAGER_DEFAULTS.pendingGraceMs);
  });

  it("a validator without options holds a limit within PRE_ORDER_VALIDATOR_DEFAULTS.limitPriceBand and refuses a closed market", async () => {
    const { clock, broker } = world();
    const validator = new PreOrderValidator({ broker });
    const band = PRE_ORDER_VALIDATOR_DEFAULTS.limitPriceBand;
    const limit = (limitPrice: string): OrderIntentInput => ({
      symbol: "TECL",
      side: "buy",
      qty: 1,
      type: "limit",
      limitPrice,
      timeInForce: "day",
    });
    const bandCheck = async (limitPrice: string) =>
      (await clock.run(validator.validate(limit(limitPrice)))).checks.find(
        (c) => c.name === "limit_price_band",
      )?.ok;
    const edge = band.plus(1).times(50);
    expect(await bandCheck(edge.toFixed())).toBe(true);
    expect(await bandCheck(edge.plus("0.01").toFixed())).toBe(false);
    const closed = {
      isOpen: false,
      nextOpen: new Date(clock.now() + 3_600_000),
      nextClose: new Date(),
      asOf: new Date(),
    };
    const report = await clock.run(validator.validate(limit("50"), { clock: closed }));
    expect(report.checks.find((c) => c.name === "market_open")?.ok).toBe(
      PRE_ORDER_VALIDATOR_DEFAULTS.allowQueueing,
    );
  });
});
