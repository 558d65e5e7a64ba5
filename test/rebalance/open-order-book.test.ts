import { Decimal } from "ordersafe";
import { describe, expect, it } from "vitest";
import {
  buildOpenOrderBook,
  conflictsOf,
  hasNotionalOrder,
  isOwnOrder,
  liveOrders,
  openBuyHold,
  type PlanOrder,
  unfilledQty,
  widenForOrders,
} from "../../src/rebalance/open-order-book.js";
import { COMMON_SCALE_DIGITS, createPlanScales, ScaleWidener } from "../../src/rebalance/plan-scales.js";

const d = (v: string | number) => new Decimal(v);
const scales = createPlanScales(COMMON_SCALE_DIGITS);
const buyFactor = scales.oneF + scales.toF(d("0.03"));
const Q = (v: string) => scales.toQ(d(v));
/** Dollars at scale C. */
const C = (v: string) => scales.toM(d(v)) * scales.mToC;

function order(id: string, symbol: string, side: "buy" | "sell", over: Partial<PlanOrder> = {}): PlanOrder {
  return {
    id,
    clientOrderId: `c-${id}`,
    symbol,
    side,
    type: "market",
    timeInForce: "day",
    qty: d(10),
    filledQty: d(0),
    status: "new",
    updatedAt: new Date(0),
    ...over,
  };
}

describe("liveOrders", () => {
  it("drops final orders and works out a notional order's unfilled shares at the price", () => {
    const live = liveOrders(
      [
        order("a", "AAA", "sell", { status: "filled", filledQty: d(10) }),
        order("b", "AAA", "sell", { status: "partially_filled", filledQty: d(4) }),
        order("c", "BBB", "buy", {
          qty: undefined,
          notional: d(100),
          filledQty: d(2),
          filledAvgPrice: d(10),
        }),
        order("d", "CCC", "buy", { qty: undefined, notional: d(100) }),
      ],
      { AAA: d(10), BBB: d(40) },
    );
    expect(live.map((l) => l.order.id)).toEqual(["b", "c", "d"]);
    expect(live[0]!.notionalUnfilled).toBeUndefined();
    expect(live[1]!.notionalUnfilled!.toString()).toBe("2"); // ($100 − 2 × $10) / $40
    expect(live[2]!.price).toBeUndefined();
    expect(live[2]!.notionalUnfilled).toBeUndefined();
  });

  it("widenForOrders fits every figure of the open orders", () => {
    const w = new ScaleWidener(COMMON_SCALE_DIGITS);
    widenForOrders(
      w,
      liveOrders([order("a", "AAA", "buy", { type: "limit", limitPrice: d("9.1234567") })], { AAA: d(10) }),
    );
    expect(w.digits().p).toBe(7);
  });
});

describe("buildOpenOrderBook", () => {
  it("nets the unfilled shares per symbol and side, orders kept in order", () => {
    const orders = [
      order("s1", "AAA", "sell", { qty: d(10), filledQty: d(4) }),
      order("b1", "AAA", "buy", { qty: d(3) }),
      order("s2", "AAA", "sell", { qty: d("2.5") }),
      order("s3", "BBB", "sell", { qty: d(1) }),
    ];
    const book = buildOpenOrderBook(liveOrders(orders, { AAA: d(10) }), scales, buyFactor);
    const aaa = book.get("AAA")!;
    expect(aaa.sell!.qty).toBe(Q("8.5"));
    expect(aaa.sell!.orders.map((o) => o.id)).toEqual(["s1", "s2"]);
    expect(aaa.buy!.qty).toBe(Q("3"));
    expect(book.get("BBB")!.buy).toBeUndefined();
    expect(book.get("BBB")!.buyHold).toBe(0n);
    expect([...book.keys()]).toEqual(["AAA", "BBB"]);
  });

  it("counts what the open buys hold of the cash", () => {
    const orders = [
      order("m", "AAA", "buy", { qty: d(3) }),
      order("l", "AAA", "buy", { qty: d(2), type: "limit", limitPrice: d(9) }),
      order("n", "BBB", "buy", { qty: undefined, notional: d(100), filledQty: d(2), filledAvgPrice: d(10) }),
    ];
    const book = buildOpenOrderBook(liveOrders(orders, { AAA: d(10), BBB: d(40) }), scales, buyFactor);
    // 3 × $10 × 1.03 + 2 × $9 (the limit).
    expect(book.get("AAA")!.buyHold).toBe(C("30.9") + C("18"));
    // $100 less the $20 spent.
    expect(book.get("BBB")!.buyHold).toBe(C("80"));
  });
});

describe("openBuyHold", () => {
  it("prices a market buy at the reference price, else at its average fill price, else not at all", () => {
    const o = order("m", "AAA", "buy", { qty: d(4), filledQty: d(1), filledAvgPrice: d(8) });
    expect(openBuyHold(o, Q("3"), d(10), scales, buyFactor)).toBe(C("30.9"));
    expect(openBuyHold(o, Q("3"), undefined, scales, buyFactor)).toBe(C("24.72"));
    expect(openBuyHold(order("x", "AAA", "buy"), Q("10"), undefined, scales, buyFactor)).toBe(0n);
  });

  it("counts a notional buy's unspent notional, never below zero", () => {
    const n = order("n", "AAA", "buy", { qty: undefined, notional: d(100), filledQty: d(12) });
    expect(openBuyHold(n, 0n, d(10), scales, buyFactor)).toBe(0n);
    expect(openBuyHold({ ...n, filledQty: d(0) }, 0n, undefined, scales, buyFactor)).toBe(C("100"));
  });
});

describe("unfilledQty, conflictsOf, hasNotionalOrder", () => {
  it("gives the unfilled shares of an order, a notional one at the price", () => {
    expect(unfilledQty(order("a", "AAA", "sell", { filledQty: d(4) }), undefined)!.toString()).toBe("6");
    const n = order("n", "AAA", "buy", { qty: undefined, notional: d(100) });
    expect(unfilledQty(n, d(40))!.toString()).toBe("2.5");
    expect(unfilledQty(n, undefined)).toBeUndefined();
  });

  it("lists one conflict per open order, with its reason", () => {
    const orders = [order("a", "AAA", "sell", { filledQty: d(4) }), order("b", "AAA", "sell")];
    expect(conflictsOf("AAA", orders, d(10), "opposite_side")).toEqual([
      {
        symbol: "AAA",
        orderId: "a",
        clientOrderId: "c-a",
        side: "sell",
        unfilledQty: d(6),
        reason: "opposite_side",
      },
      {
        symbol: "AAA",
        orderId: "b",
        clientOrderId: "c-b",
        side: "sell",
        unfilledQty: d(10),
        reason: "opposite_side",
      },
    ]);
  });

  it("tells ordersafe's own orders apart, per side, with what they hold", () => {
    const own = order("o", "AAA", "buy", { clientOrderId: "os-r1-AAA-b0-xxxxxxxxxxxxxxxx" });
    const book = buildOpenOrderBook(
      liveOrders([own, order("x", "AAA", "buy", { qty: d(2) })], { AAA: d(10) }),
      scales,
      buyFactor,
    );
    const entry = book.get("AAA")!;
    expect(isOwnOrder(own)).toBe(true);
    expect(isOwnOrder(order("x", "AAA", "buy"))).toBe(false);
    expect(entry.buy!.own.map((o) => o.id)).toEqual(["o"]);
    expect(entry.buy!.ownQty).toBe(Q("10"));
    expect(entry.buy!.qty).toBe(Q("12"));
    expect(entry.ownBuyHold).toBe(C("103"));
    expect(entry.buyHold).toBe(C("123.6"));
  });

  it("tells whether a symbol has an open order sized by notional", () => {
    const book = buildOpenOrderBook(
      liveOrders([order("a", "AAA", "sell"), order("n", "BBB", "buy", { qty: undefined, notional: d(5) })], {
        AAA: d(1),
        BBB: d(1),
      }),
      scales,
      buyFactor,
    );
    expect(hasNotionalOrder(book.get("AAA"))).toBe(false);
    expect(hasNotionalOrder(book.get("BBB"))).toBe(true);
    expect(hasNotionalOrder(undefined)).toBe(false);
  });
});
