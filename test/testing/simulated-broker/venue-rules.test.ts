import fc from "fast-check";
import { Decimal, type OrderRequest } from "ordersafe";
import { describe, expect, it } from "vitest";
import {
  type Admission,
  admissionRefusal,
  atMostNineDecimals,
  buyHold,
  buyingPowerCovers,
  cancelRefusal,
  closeRefusal,
  extendedHoursIsDayLimit,
  fractionableAsset,
  fractionalIsDay,
  knownAsset,
  limitPriceTick,
  marketHasPrice,
  minimumNotional,
  notionalIsMarket,
  noWashTrade,
  quantityAvailable,
  queuedUntilOpen,
  type RestingOrder,
  sellQuantity,
  tradableAsset,
  uniqueClientOrderId,
  VENUE_RULES,
  wholeIncrements,
} from "../../../src/testing/simulated-broker/venue-rules.js";

const d = (v: string | number) => new Decimal(v);

function order(over: Partial<OrderRequest> = {}): OrderRequest {
  return {
    clientOrderId: "c1",
    symbol: "AAA",
    side: "buy",
    type: "market",
    timeInForce: "day",
    qty: d(2),
    ...over,
  };
}

/** A request and an account state every rule accepts. */
function admission(request: Partial<OrderRequest> = {}, over: Partial<Admission> = {}): Admission {
  return {
    request: order(request),
    via: "submitOrder",
    clientOrderIdUsed: false,
    asset: {
      symbol: "AAA",
      tradable: true,
      fractionable: true,
      qtyIncrement: d("0.000000001"),
      minNotional: d(1),
    },
    price: d(10),
    openOrders: [],
    position: d(5),
    sellHeld: d(0),
    buyingPower: d(1000),
    marketBuyBuffer: d("0.03"),
    ...over,
  };
}

const wholeShares = {
  symbol: "AAA",
  tradable: true,
  fractionable: false,
  qtyIncrement: d(1),
  minNotional: d(1),
};

function resting(over: Partial<RestingOrder> = {}): RestingOrder {
  return { id: "o-1", symbol: "AAA", side: "sell", type: "market", limitPrice: undefined, ...over };
}

describe("the base admission", () => {
  it("passes every rule, buy and sell", () => {
    expect(admissionRefusal(admission())).toBeUndefined();
    expect(admissionRefusal(admission({ side: "sell" }))).toBeUndefined();
  });
});

describe("venue rules, one by one", () => {
  it("uniqueClientOrderId: a used id is a duplicate (40010001)", () => {
    expect(uniqueClientOrderId(admission())).toBeUndefined();
    expect(uniqueClientOrderId(admission({}, { clientOrderIdUsed: true }))).toEqual({
      code: "duplicate_client_order_id",
      brokerCode: "40010001",
      message: "client_order_id must be unique",
    });
  });

  it("knownAsset: an unknown symbol is invalid_order", () => {
    expect(knownAsset(admission())).toBeUndefined();
    expect(knownAsset(admission({ symbol: "ZZZ" }, { asset: undefined }))).toMatchObject({
      code: "invalid_order",
      brokerCode: "42210000",
      message: "asset not found: ZZZ",
    });
  });

  it("tradableAsset: an untradable asset is rejected; an unknown one is not this rule's", () => {
    const asset = { ...wholeShares, tradable: false };
    expect(tradableAsset(admission({}, { asset }))).toMatchObject({
      code: "rejected",
      message: "asset AAA is not tradable",
    });
    expect(tradableAsset(admission({}, { asset: undefined }))).toBeUndefined();
  });

  it("notionalIsMarket: a notional limit order is invalid", () => {
    expect(notionalIsMarket(admission({ qty: undefined, notional: d(50) }))).toBeUndefined();
    expect(
      notionalIsMarket(admission({ qty: undefined, notional: d(50), type: "limit", limitPrice: d(9) })),
    ).toMatchObject({ code: "invalid_order", message: "notional orders must be market orders" });
  });

  it("extendedHoursIsDayLimit: extended hours only for DAY limit orders", () => {
    expect(
      extendedHoursIsDayLimit(admission({ extendedHours: true, type: "limit", limitPrice: d(9) })),
    ).toBeUndefined();
    expect(extendedHoursIsDayLimit(admission({ extendedHours: false, timeInForce: "gtc" }))).toBeUndefined();
    for (const bad of [
      { extendedHours: true },
      { extendedHours: true, type: "limit" as const, limitPrice: d(9), timeInForce: "gtc" as const },
    ]) {
      expect(extendedHoursIsDayLimit(admission(bad))).toMatchObject({
        code: "invalid_order",
        message: "extended hours orders must be DAY limit orders",
      });
    }
  });

  it("atMostNineDecimals: qty and notional take 9 decimals; closePosition is spared", () => {
    expect(atMostNineDecimals(admission({ qty: d("0.123456789") }))).toBeUndefined();
    expect(atMostNineDecimals(admission({ qty: d("0.1234567891") }))).toMatchObject({
      brokerCode: "40010001",
      message: "qty must have at most 9 decimal places",
    });
    expect(atMostNineDecimals(admission({ qty: undefined, notional: d("1.0000000001") }))?.message).toBe(
      "notional must have at most 9 decimal places",
    );
    expect(
      atMostNineDecimals(admission({ qty: d("0.1234567891") }, { via: "closePosition" })),
    ).toBeUndefined();
  });

  it("fractionableAsset: a fractional qty or a notional needs a fractionable asset", () => {
    expect(fractionableAsset(admission({ qty: d(3) }, { asset: wholeShares }))).toBeUndefined();
    expect(fractionableAsset(admission({ qty: d("0.5") }, { asset: wholeShares }))).toMatchObject({
      code: "not_fractionable",
      brokerCode: "40310000",
      message: "requested asset is not fractionable",
    });
    expect(
      fractionableAsset(admission({ qty: undefined, notional: d(20) }, { asset: wholeShares }))?.code,
    ).toBe("not_fractionable");
    expect(
      fractionableAsset(admission({ qty: d("0.5") }, { asset: wholeShares, via: "closePosition" })),
    ).toBeUndefined();
  });

  it("wholeIncrements: a qty is a multiple of the asset's increment", () => {
    const tenths = { ...wholeShares, fractionable: true, qtyIncrement: d("0.1") };
    expect(wholeIncrements(admission({ qty: d("0.3") }, { asset: tenths }))).toBeUndefined();
    expect(wholeIncrements(admission({ qty: d("0.35") }, { asset: tenths }))).toMatchObject({
      code: "invalid_order",
      message: "qty must be a multiple of 0.1",
    });
    expect(
      wholeIncrements(admission({ qty: d("0.35") }, { asset: tenths, via: "closePosition" })),
    ).toBeUndefined();
    expect(
      wholeIncrements(admission({ qty: undefined, notional: d("7.77") }, { asset: tenths })),
    ).toBeUndefined();
  });

  it("fractionalIsDay: fractional and notional orders are DAY orders, even a close", () => {
    expect(fractionalIsDay(admission({ qty: d(2), timeInForce: "gtc" }))).toBeUndefined();
    expect(fractionalIsDay(admission({ qty: d("2.5"), timeInForce: "gtc" }))).toMatchObject({
      message: "fractional orders must be DAY orders",
    });
    expect(
      fractionalIsDay(admission({ qty: d("2.5"), timeInForce: "ioc" }, { via: "closePosition" }))?.code,
    ).toBe("invalid_order");
  });

  it("limitPriceTick: 2 decimals at $1 and above, 4 below", () => {
    const limit = (p: string) => admission({ type: "limit", limitPrice: d(p) });
    expect(limitPriceTick(limit("10.25"))).toBeUndefined();
    expect(limitPriceTick(limit("0.9999"))).toBeUndefined();
    expect(limitPriceTick(limit("10.251"))?.message).toBe(
      "invalid limit_price 10.251. sub-penny increment does not fulfill minimum pricing criteria",
    );
    expect(limitPriceTick(limit("0.99991"))?.code).toBe("invalid_order");
  });

  it("marketHasPrice: a market order needs a price; a limit order does not", () => {
    expect(marketHasPrice(admission({}, { price: undefined }))).toMatchObject({
      message: "no market price for AAA",
    });
    expect(
      marketHasPrice(admission({ type: "limit", limitPrice: d(5) }, { price: undefined })),
    ).toBeUndefined();
  });

  it("minimumNotional: a fractional order costs at least the asset's minimum; whole shares and closes are spared", () => {
    expect(minimumNotional(admission({ qty: undefined, notional: d(1) }))).toBeUndefined();
    expect(minimumNotional(admission({ qty: undefined, notional: d("0.99") }))).toMatchObject({
      code: "min_notional",
      brokerCode: "40310000",
      message: "cost basis must be >= minimal amount of order 1",
    });
    // 0.05 × $10 = $0.50, a limit at $30 makes it $1.50
    expect(minimumNotional(admission({ qty: d("0.05") }))?.code).toBe("min_notional");
    expect(minimumNotional(admission({ qty: d("0.05"), type: "limit", limitPrice: d(30) }))).toBeUndefined();
    expect(minimumNotional(admission({ qty: d("0.05") }, { via: "closePosition" }))).toBeUndefined();
    expect(minimumNotional(admission({ qty: d(1) }, { price: d("0.5") }))).toBeUndefined();
  });

  it("noWashTrade: any opposite market order, or crossing limits, on the symbol", () => {
    const market = resting({ id: "m", type: "market" });
    expect(noWashTrade(admission({}, { openOrders: [market] }))).toEqual({
      code: "wash_trade",
      brokerCode: "40310000",
      message: "potential wash trade detected. use complex orders",
      details: { existing_order_id: "m", reject_reason: "opposite side market/stop order exists" },
    });
    const sellAt12 = resting({ id: "s12", type: "limit", limitPrice: d(12) });
    const buyLimit = (p: number) =>
      admission({ type: "limit", limitPrice: d(p) }, { openOrders: [sellAt12] });
    expect(noWashTrade(buyLimit(11))).toBeUndefined();
    expect(noWashTrade(buyLimit(12))?.details).toEqual({
      existing_order_id: "s12",
      reject_reason: "opposite side limit order exists. use complex/limit/stop_limit orders",
    });
    expect(
      noWashTrade(admission({}, { openOrders: [resting({ side: "buy" }), resting({ symbol: "BBB" })] })),
    ).toBeUndefined();
  });

  it("quantityAvailable: a sell takes at most the position less what open sells hold", () => {
    expect(quantityAvailable(admission({ side: "sell", qty: d(3) }, { sellHeld: d(2) }))).toBeUndefined();
    expect(quantityAvailable(admission({ side: "sell", qty: d(4) }, { sellHeld: d(2) }))).toEqual({
      code: "insufficient_quantity",
      brokerCode: "40310000",
      message: "insufficient qty available for order (requested: 4, available: 3)",
      details: { available: "3", existing_qty: "5", held_for_orders: "2", requested: "4", symbol: "AAA" },
    });
    // a notional sell holds its notional at the price: $60 at $10 is 6 shares
    expect(
      quantityAvailable(admission({ side: "sell", qty: undefined, notional: d(60) }))?.details,
    ).toMatchObject({
      requested: "6",
    });
    expect(quantityAvailable(admission({ side: "sell" }, { position: d(0) }))?.code).toBe(
      "insufficient_quantity",
    );
    expect(quantityAvailable(admission({ qty: d(99) }))).toBeUndefined();
  });

  it("buyingPowerCovers: the hold fits in the buying power (market buys with the buffer)", () => {
    // 97 × $10 × 1.03 = $999.10 fits in $1,000; 98 shares ($1,009.40) do not
    expect(buyingPowerCovers(admission({ qty: d(97) }))).toBeUndefined();
    expect(buyingPowerCovers(admission({ qty: d(98) }))).toEqual({
      code: "insufficient_buying_power",
      brokerCode: "40310000",
      message: "insufficient buying power",
      details: { buying_power: "1000", cost_basis: "1009.4" },
    });
    expect(buyingPowerCovers(admission({ qty: d(99), type: "limit", limitPrice: d(10) }))).toBeUndefined();
    expect(buyingPowerCovers(admission({ qty: undefined, notional: d("1000.01") }))?.code).toBe(
      "insufficient_buying_power",
    );
    expect(buyingPowerCovers(admission({ qty: d(1) }, { buyingPower: d(-5) }))?.details).toMatchObject({
      buying_power: "0",
    });
    expect(buyingPowerCovers(admission({ side: "sell", qty: d(500) }))).toBeUndefined();
  });
});

describe("admissionRefusal", () => {
  it("the first refusal wins: a duplicate id on an unknown symbol is a duplicate", () => {
    expect(
      admissionRefusal(
        admission({ symbol: "ZZZ" }, { clientOrderIdUsed: true, asset: undefined, price: undefined }),
      )?.code,
    ).toBe("duplicate_client_order_id");
  });

  it("every rule is total, and a taken order never oversells nor overspends (property)", () => {
    const dec = (min: number, max: number) =>
      fc.integer({ min: min * 10_000, max: max * 10_000 }).map((n) => new Decimal(n).div(10_000));
    const arb = fc.record({
      side: fc.constantFrom("buy" as const, "sell" as const),
      type: fc.constantFrom("market" as const, "limit" as const),
      tif: fc.constantFrom("day" as const, "gtc" as const, "ioc" as const),
      byNotional: fc.boolean(),
      amount: dec(0, 200).filter((v) => v.gt(0)),
      limit: dec(0, 50).filter((v) => v.gt(0)),
      extendedHours: fc.option(fc.boolean(), { nil: undefined }),
      asset: fc.option(fc.record({ tradable: fc.boolean(), fractionable: fc.boolean() }), { nil: undefined }),
      price: fc.option(
        dec(0, 50).filter((v) => v.gt(0)),
        { nil: undefined },
      ),
      position: dec(0, 100),
      sellHeld: dec(0, 100),
      buyingPower: dec(-10, 2000),
      closing: fc.boolean(),
      open: fc.array(
        fc.record({
          side: fc.constantFrom("buy" as const, "sell" as const),
          limit: fc.option(
            dec(0, 50).filter((v) => v.gt(0)),
            { nil: undefined },
          ),
        }),
        { maxLength: 3 },
      ),
    });
    fc.assert(
      fc.property(arb, (g) => {
        const request: OrderRequest = {
          clientOrderId: "c",
          symbol: "AAA",
          side: g.side,
          type: g.type,
          timeInForce: g.tif,
          ...(g.byNotional ? { notional: g.amount } : { qty: g.amount }),
          ...(g.type === "limit" ? { limitPrice: g.limit } : {}),
          ...(g.extendedHours === undefined ? {} : { extendedHours: g.extendedHours }),
        };
        const a: Admission = {
          request,
          via: g.closing ? "closePosition" : "submitOrder",
          clientOrderIdUsed: false,
          asset:
            g.asset === undefined
              ? undefined
              : {
                  symbol: "AAA",
                  ...g.asset,
                  qtyIncrement: d(g.asset.fractionable ? "0.0001" : 1),
                  minNotional: d(1),
                },
          price: g.price,
          openOrders: g.open.map((o, i) =>
            resting({ id: `o${i}`, side: o.side, type: o.limit ? "limit" : "market", limitPrice: o.limit }),
          ),
          position: g.position,
          sellHeld: g.sellHeld,
          buyingPower: g.buyingPower,
          marketBuyBuffer: d("0.03"),
        };
        for (const rule of VENUE_RULES) {
          const r = rule(a);
          if (r !== undefined) {
            expect(r.brokerCode).toMatch(/^\d{8}$/);
            expect(r.message.length).toBeGreaterThan(0);
          }
        }
        if (admissionRefusal(a) !== undefined) return;
        expect(a.asset?.tradable).toBe(true);
        if (g.side === "sell") {
          expect(sellQuantity(request, g.price)?.lte(Decimal.max(0, g.position.minus(g.sellHeld)))).toBe(
            true,
          );
        } else {
          const hold = request.notional ?? buyHold(request, g.amount, g.price, d("0.03"));
          expect(hold.lte(g.buyingPower)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("the other venue answers", () => {
  it("queuedUntilOpen: closed market queues all but extended-hours orders", () => {
    expect(queuedUntilOpen({}, true)).toBe(false);
    expect(queuedUntilOpen({}, false)).toBe(true);
    expect(queuedUntilOpen({ extendedHours: true }, false)).toBe(false);
  });

  it("closeRefusal: no position is not_found; shares held by open sells are insufficient_quantity", () => {
    expect(closeRefusal("AAA", d(5), d(0))).toBeUndefined();
    expect(closeRefusal("AAA", d(0), d(0))).toEqual({
      code: "not_found",
      brokerCode: "40410000",
      message: "position not found: AAA",
      details: { symbol: "AAA" },
    });
    expect(closeRefusal("AAA", d(5), d(2))).toMatchObject({
      code: "insufficient_quantity",
      message: "insufficient qty available for order (requested: 5, available: 3)",
    });
  });

  it("cancelRefusal: unknown is not_found, final is not_cancelable, open (even pending_cancel) is accepted", () => {
    expect(cancelRefusal("x", undefined)).toMatchObject({ code: "not_found", message: "order not found" });
    expect(cancelRefusal("x", "filled")).toEqual({
      code: "not_cancelable",
      brokerCode: "42210000",
      message: "order is not cancelable",
      details: { orderId: "x", status: "filled" },
    });
    expect(cancelRefusal("x", "pending_cancel")).toBeUndefined();
    expect(cancelRefusal("x", "partially_filled")).toBeUndefined();
  });

  it("buyHold and sellQuantity", () => {
    expect(buyHold({ type: "limit", limitPrice: d(9) }, d(2), d(10), d("0.03")).toString()).toBe("18");
    expect(buyHold({ type: "market" }, d(2), d(10), d("0.03")).toString()).toBe("20.6");
    expect(buyHold({ type: "market" }, d(2), undefined, d("0.03")).toString()).toBe("0");
    expect(sellQuantity(order({ side: "sell", qty: undefined, notional: d(10) }), d(3))?.toString()).toBe(
      "3.333333333",
    );
    expect(sellQuantity(order({ side: "sell", qty: undefined, notional: d(10) }), undefined)).toBeUndefined();
  });
});
