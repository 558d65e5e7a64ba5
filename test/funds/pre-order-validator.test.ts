import {
  BuyingPowerManager,
  Decimal,
  type OrderIntentInput,
  PRE_ORDER_CHECKS,
  PreOrderValidator,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

type SimOptions = Parameters<typeof createSimulatedBroker>[0];

function world(
  sim: SimOptions = {},
  opts: Omit<ConstructorParameters<typeof PreOrderValidator>[0] & object, "broker"> = {},
) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    positions: { FNGU: 100 },
    prices: { FNGU: 30, TECL: 50, XYZ: 20, BAD: 5, BIL: 100 },
    assets: { XYZ: { fractionable: false, qtyIncrement: 1 }, BAD: { tradable: false } },
    ...sim,
  });
  const validator = new PreOrderValidator({
    broker,
    riskLimits: {
      maxOrderNotional: 5000,
      maxOrderPctOfEquity: 0.4,
      maxPositionWeight: 0.6,
      denyList: ["GME"],
    },
    ...opts,
  });
  return { clock, broker, validator };
}

const base: OrderIntentInput = { symbol: "TECL", side: "buy", qty: 10, type: "market", timeInForce: "day" };

async function failed(v: PreOrderValidator, intent: OrderIntentInput) {
  const r = await v.validate(intent);
  expect(r.checks.map((c) => c.name)).toEqual(PRE_ORDER_CHECKS);
  expect(r.ok).toBe(r.checks.every((c) => c.ok));
  for (const c of r.checks) expect(c.message.length).toBeGreaterThan(0);
  return r.checks.filter((c) => !c.ok).map((c) => c.name);
}

describe("PreOrderValidator", () => {
  it("passes a sound buy and a sound sell", async () => {
    const { validator } = world();
    expect(await failed(validator, base)).toEqual([]);
    expect(await failed(validator, { ...base, symbol: "FNGU", side: "sell", qty: 100 })).toEqual([]);
    expect((await validator.validate(base)).ok).toBe(true);
  });

  it("account_active: fails when trading is blocked (context), passes otherwise", async () => {
    const { validator, broker } = world();
    const account = { ...(await broker.getAccount()), tradingBlocked: true };
    const r = await validator.validate(base, { account });
    expect(r.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["account_active"]);
  });

  it("deny_list", async () => {
    const { validator } = world({ prices: { GME: 20, TECL: 50, FNGU: 30 } });
    expect(await failed(validator, { ...base, symbol: "GME" })).toEqual(["deny_list"]);
  });

  it("asset_tradable: an untradable and an unknown asset", async () => {
    const { validator } = world();
    expect(await failed(validator, { ...base, symbol: "BAD" })).toEqual(["asset_tradable"]);
    const unknown = await failed(validator, { ...base, symbol: "NOPE", type: "limit", limitPrice: 10 });
    expect(unknown).toContain("asset_tradable");
  });

  it("fractionable and quantity_increment: a fractional qty or notional on a whole-share asset", async () => {
    const { validator } = world();
    expect(await failed(validator, { ...base, symbol: "XYZ", qty: "2.5" })).toEqual([
      "fractionable",
      "quantity_increment",
    ]);
    expect(await failed(validator, { ...base, symbol: "XYZ", qty: undefined, notional: 100 })).toEqual([
      "fractionable",
    ]);
    expect(await failed(validator, { ...base, symbol: "XYZ", qty: 3 })).toEqual([]);
    expect(await failed(validator, { ...base, qty: "2.5" })).toEqual([]);
  });

  it("quantity_increment: a quantity off the asset's step", async () => {
    const { validator } = world({ assets: { TECL: { qtyIncrement: "0.01" } } });
    expect(await failed(validator, { ...base, qty: "1.005" })).toEqual(["quantity_increment"]);
    expect(await failed(validator, { ...base, qty: "1.01" })).toEqual([]);
  });

  it("min_notional", async () => {
    const { validator } = world();
    expect(await failed(validator, { ...base, qty: undefined, notional: "0.5" })).toEqual(["min_notional"]);
    expect(await failed(validator, { ...base, qty: undefined, notional: 1 })).toEqual([]);
  });

  it("time_in_force: fractional orders are day only", async () => {
    const { validator } = world();
    expect(await failed(validator, { ...base, qty: "0.5", timeInForce: "gtc" })).toEqual(["time_in_force"]);
    expect(await failed(validator, { ...base, qty: 1, timeInForce: "gtc" })).toEqual([]);
  });

  it("market_open: closed fails unless queueing is allowed", async () => {
    const closed = world({ marketOpen: false });
    expect(await failed(closed.validator, base)).toEqual(["market_open"]);
    const queued = world({ marketOpen: false }, { allowQueueing: true });
    expect(await failed(queued.validator, base)).toEqual([]);
  });

  it("position_available: selling more than is available, or shares held by an open sell", async () => {
    const { validator, broker } = world({ marketOpen: false }, { allowQueueing: true });
    expect(await failed(validator, { ...base, symbol: "FNGU", side: "sell", qty: 101 })).toEqual([
      "position_available",
    ]);
    expect(await failed(validator, { ...base, symbol: "TECL", side: "sell", qty: 1 })).toEqual([
      "position_available",
    ]);
    await broker.submitOrder({
      clientOrderId: "s1",
      symbol: "FNGU",
      side: "sell",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(60),
    });
    expect(await failed(validator, { ...base, symbol: "FNGU", side: "sell", qty: 50 })).toEqual([
      "position_available",
    ]);
    expect(await failed(validator, { ...base, symbol: "FNGU", side: "sell", qty: 40 })).toEqual([]);
  });

  it("buying_power: through the ledger, counting open buys and the manager's reservations", async () => {
    const { validator, broker, clock } = world({ marketOpen: false }, { allowQueueing: true });
    // 90 × 50 × 1.03 = 4635 ≤ 5000 (risk limit) but an open buy holds 6000 first
    await broker.submitOrder({
      clientOrderId: "b1",
      symbol: "BIL",
      side: "buy",
      type: "limit",
      limitPrice: new Decimal(100),
      timeInForce: "day",
      qty: new Decimal(60),
    });
    const big = { ...base, qty: 90 };
    const withOpen = await failed(validator, big);
    expect(withOpen).toEqual(["buying_power"]);
    expect(await failed(validator, { ...base, qty: 70 })).toEqual([]);

    const bp = new BuyingPowerManager({ broker, clock });
    await bp.recompute(); // adopts the open BIL buy
    const managed = new PreOrderValidator({ broker, buyingPower: bp, allowQueueing: true });
    expect((await managed.validate({ ...base, qty: 90 })).ok).toBe(false);
    expect((await managed.validate({ ...base, qty: 70 })).ok).toBe(true);
    expect((await bp.reserve({ ...base, qty: 70, clientOrderId: "r1" })).ok).toBe(true);
    // the reservation is counted against other orders but not against itself
    expect((await managed.validate({ ...base, qty: 70, clientOrderId: "r1" })).ok).toBe(true);
    const other = await managed.validate({ ...base, qty: 70, clientOrderId: "r2" });
    expect(other.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["buying_power"]);
  });

  it("max_order_notional and max_order_equity_pct", async () => {
    const { validator } = world({ cash: 100_000 }, { riskLimits: { maxOrderNotional: 1000 } });
    expect(await failed(validator, { ...base, qty: 21 })).toEqual(["max_order_notional"]);
    expect(await failed(validator, { ...base, qty: 20 })).toEqual([]);
    const pct = world({ cash: 10_000 }, { riskLimits: { maxOrderPctOfEquity: 0.1 } });
    // equity = 10000 + 100 × 30 = 13000; 27 × 50 = 1350 > 1300
    expect(await failed(pct.validator, { ...base, qty: 27 })).toEqual(["max_order_equity_pct"]);
    expect(await failed(pct.validator, { ...base, qty: 26 })).toEqual([]);
  });

  it("max_position_weight: the position after the buy", async () => {
    const { validator } = world({}, { riskLimits: { maxPositionWeight: 0.3 } });
    // equity 13000: FNGU 3000 + 30 × 30 = 3900 = 0.3; one more share is above
    expect(await failed(validator, { ...base, symbol: "FNGU", qty: 31 })).toEqual(["max_position_weight"]);
    expect(await failed(validator, { ...base, symbol: "FNGU", qty: 30 })).toEqual([]);
  });

  it("no_opposite_order: an open sell blocks a buy on the symbol", async () => {
    const { validator, broker } = world({ marketOpen: false }, { allowQueueing: true });
    await broker.submitOrder({
      clientOrderId: "s1",
      symbol: "FNGU",
      side: "sell",
      type: "limit",
      limitPrice: new Decimal(31),
      timeInForce: "day",
      qty: new Decimal(10),
    });
    expect(await failed(validator, { ...base, symbol: "FNGU" })).toEqual(["no_opposite_order"]);
    expect(await failed(validator, { ...base, symbol: "TECL" })).toEqual([]);
  });

  it("limit_price_band: a limit far from the last price", async () => {
    const { validator } = world();
    expect(await failed(validator, { ...base, type: "limit", limitPrice: 60 })).toEqual(["limit_price_band"]);
    expect(await failed(validator, { ...base, type: "limit", limitPrice: 40 })).toEqual(["limit_price_band"]);
    expect(await failed(validator, { ...base, type: "limit", limitPrice: 55 })).toEqual([]);
  });

  it("reads fresh data on every call", async () => {
    const { validator, broker } = world();
    expect(await failed(validator, { ...base, type: "limit", limitPrice: 55 })).toEqual([]);
    broker.setPrice("TECL", 80);
    expect(await failed(validator, { ...base, type: "limit", limitPrice: 55 })).toEqual(["limit_price_band"]);
  });

  it("estimates the impact of an order", async () => {
    const { validator } = world();
    const buy = await validator.estimateOrderImpact({ ...base, symbol: "FNGU", qty: 10 });
    expect(buy.notional.toString()).toBe("300");
    expect(buy.required.toString()).toBe("309");
    expect(buy.buyingPowerBefore.toString()).toBe("10000");
    expect(buy.buyingPowerAfter.toString()).toBe("9691");
    expect(buy.positionQtyAfter.toString()).toBe("110");
    expect(buy.weightBefore.toString()).toBe(new Decimal(3000).div(13000).toString());
    expect(buy.weightAfter.toString()).toBe(new Decimal(3300).div(13000).toString());
    const sell = await validator.estimateOrderImpact({ ...base, symbol: "FNGU", side: "sell", qty: 100 });
    expect(sell.positionQtyAfter.toString()).toBe("0");
    expect(sell.weightAfter.toString()).toBe("0");
    expect(sell.buyingPowerAfter.toString()).toBe("13000");
  });

  it("works from a caller's context without a broker, and says what is missing", async () => {
    const { broker } = world();
    const v = new PreOrderValidator();
    const ctx = {
      account: await broker.getAccount(),
      position: null,
      asset: (await broker.getAssets(["TECL"]))[0],
      price: 50,
      clock: await broker.getClock(),
      openOrders: [],
    };
    expect((await v.validate(base, ctx)).ok).toBe(true);
    await expect(v.validate(base, { ...ctx, clock: undefined })).rejects.toMatchObject({ code: "config" });
  });

  it("validates options, intents and context", async () => {
    const { validator } = world();
    expect(() => new PreOrderValidator({ riskLimits: { maxOrderNotional: -1 } })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => new PreOrderValidator({ nope: true } as object)).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    await expect(validator.validate({ ...base, qty: 1, notional: 1 })).rejects.toMatchObject({
      code: "validation",
    });
    await expect(validator.validate({ ...base, type: "limit" })).rejects.toMatchObject({
      code: "validation",
    });
    await expect(validator.validate(base, { price: "abc" })).rejects.toMatchObject({ code: "validation" });
  });
});
