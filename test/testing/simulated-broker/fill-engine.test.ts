import fc from "fast-check";
import { Decimal, type OrderRequest } from "ordersafe";
import { describe, expect, it } from "vitest";
import { createRandom } from "../../../src/core/random.js";
import { EventLog } from "../../../src/testing/simulated-broker/event-log.js";
import {
  FillEngine,
  type FillSettings,
  type FillVenue,
  fillPrice,
  fillQuantity,
} from "../../../src/testing/simulated-broker/fill-engine.js";
import { Holdings } from "../../../src/testing/simulated-broker/holdings.js";
import { defaultAsset, Market } from "../../../src/testing/simulated-broker/market.js";
import { IdSource, OrderBook, type SimOrder } from "../../../src/testing/simulated-broker/order-book.js";
import { QUANTITY_STEP } from "../../../src/testing/simulated-broker/venue-rules.js";
import { VirtualClock } from "../../../src/testing/virtual-clock.js";

const d = (v: string | number) => new Decimal(v);
const money = fc.integer({ min: 1, max: 10_000_000 }).map((n) => d(n).div(100));

describe("fillPrice", () => {
  it("moves against the order by the slippage, to 4 decimals", () => {
    expect(fillPrice(d(100), "buy", 5, undefined).toString()).toBe("100.05");
    expect(fillPrice(d(100), "sell", 5, undefined).toString()).toBe("99.95");
    expect(fillPrice(d("33.05"), "buy", 0, undefined).toString()).toBe("33.05");
  });

  it("never fills through the limit (property)", () => {
    fc.assert(
      fc.property(money, money, fc.integer({ min: 0, max: 5000 }), fc.boolean(), (last, limit, bps, buy) => {
        const p = fillPrice(last, buy ? "buy" : "sell", bps, limit);
        expect(buy ? p.lte(limit) : p.gte(limit)).toBe(true);
        const free = fillPrice(last, buy ? "buy" : "sell", bps, undefined);
        expect(buy ? free.gte(last.toDecimalPlaces(4)) : free.lte(last.toDecimalPlaces(4))).toBe(true);
      }),
    );
  });
});

describe("fillQuantity", () => {
  const qtyOrder = (qty: Decimal, filled: Decimal) => ({
    qty,
    notional: undefined,
    filledQty: filled,
    filledValue: d(0),
  });

  it("a qty order fills its rest in equal parts down to the increment, the last part all the rest", () => {
    expect(fillQuantity(qtyOrder(d(10), d(0)), 3, d(5), d(1)).toString()).toBe("3");
    expect(fillQuantity(qtyOrder(d(10), d(9)), 3, d(5), d(1)).toString()).toBe("1");
    expect(fillQuantity(qtyOrder(d(10), d(4)), 1, d(5), d(1)).toString()).toBe("6");
  });

  it("a notional order fills shares worth the dollars left, never past the notional (property)", () => {
    fc.assert(
      fc.property(
        money,
        money,
        fc.integer({ min: 1, max: 5 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (notional, price, parts, share) => {
          const filledValue = notional.times(share).toDecimalPlaces(2, Decimal.ROUND_DOWN);
          const o = { qty: undefined, notional, filledQty: d(0), filledValue };
          const q = fillQuantity(o, parts, price, d(1));
          expect(q.gte(0)).toBe(true);
          expect(filledValue.plus(q.times(price)).lte(notional)).toBe(true);
          expect(q.mod(QUANTITY_STEP).isZero()).toBe(true);
        },
      ),
    );
  });

  it("a qty order's fills add up to its qty, never more (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 6 }), (n, parts) => {
        const qty = d(n).div(1000);
        let filled = d(0);
        for (let left = parts; left >= 1 && filled.lt(qty); left--) {
          const q = fillQuantity(qtyOrder(qty, filled), left, d(7), d("0.001"));
          expect(q.gt(0)).toBe(true);
          filled = filled.plus(q);
        }
        expect(filled.eq(qty)).toBe(true);
      }),
    );
  });
});

function rig(settings: Partial<FillSettings> = {}, open = true) {
  const clock = new VirtualClock({ start: 0 });
  const log = new EventLog(clock);
  const market = new Market(open);
  market.setPrice("AAA", d(10));
  market.list(defaultAsset("AAA"));
  const holdings = new Holdings(d(1000), [["AAA", { qty: d(5), avgEntryPrice: d(10) }]]);
  const ids = new IdSource(createRandom(1));
  const book = new OrderBook(ids);
  const statuses: string[] = [];
  const venue: FillVenue = {
    clock,
    market,
    holdings,
    log,
    ids,
    setStatus(o, status, event) {
      o.status = status;
      statuses.push(`${event}:${status}`);
    },
    recordState() {},
  };
  const engine = new FillEngine(
    { fillMs: 100, partialProbability: 0, partialParts: 2, slippageBps: 0, ...settings },
    createRandom(2),
    venue,
  );
  const order = (r: Partial<OrderRequest>): SimOrder => {
    const o = book.create(
      { clientOrderId: "c", symbol: "AAA", side: "buy", type: "market", timeInForce: "day", qty: d(2), ...r },
      "new",
      true,
      0,
    );
    book.add(o);
    return o;
  };
  return { clock, market, holdings, engine, statuses, order, log };
}

describe("FillEngine", () => {
  it("fills a working order fillMs later, at the price, into the holdings", async () => {
    const { clock, engine, holdings, statuses, order } = rig();
    const o = order({});
    engine.work(o);
    await clock.advance(99);
    expect(statuses).toEqual([]);
    await clock.advance(1);
    expect(statuses).toEqual(["fill:filled"]);
    expect(holdings.qty("AAA").toString()).toBe("7");
    expect(holdings.cash.toString()).toBe("980");
  });

  it("with partial fills on, fills in parts, each its own update", async () => {
    const { clock, engine, statuses, order } = rig({ partialProbability: 1, partialParts: 2 });
    const o = order({ qty: d(4) });
    engine.work(o);
    await clock.advance(200);
    expect(statuses).toEqual(["partial_fill:partially_filled", "fill:filled"]);
    expect(o.filledQty.toString()).toBe("4");
  });

  it("a limit order waits until marketable; nothing works while the market is closed", async () => {
    const { clock, engine, market, statuses, order } = rig();
    const o = order({ type: "limit", limitPrice: d(9) });
    engine.work(o);
    await clock.advance(500);
    expect(statuses).toEqual([]);
    market.setPrice("AAA", d(9));
    market.setOpen(false);
    engine.work(o);
    await clock.advance(500);
    expect(statuses).toEqual([]);
    market.setOpen(true);
    engine.work(o);
    await clock.advance(100);
    expect(statuses).toEqual(["fill:filled"]);
  });

  it("a sell fills at most what is held, and the rest is canceled", async () => {
    const { clock, engine, holdings, statuses, order } = rig();
    const o = order({ side: "sell", qty: d(8) });
    engine.work(o);
    await clock.advance(100);
    expect(statuses).toEqual(["partial_fill:partially_filled", "canceled:canceled"]);
    expect(holdings.qty("AAA").toString()).toBe("0");
    expect(o.filledQty.toString()).toBe("5");
  });

  it("stop() cancels the scheduled fill; fillLate() fills the rest whatever the status", async () => {
    const { clock, engine, statuses, order, log } = rig();
    const o = order({});
    engine.work(o);
    engine.stop(o);
    o.status = "canceled";
    await clock.advance(1000);
    expect(statuses).toEqual([]);
    engine.fillLate(o);
    await clock.advance(100);
    expect(statuses).toEqual(["fill:filled"]);
    expect(log.list().find((e) => e.type === "fill")?.late).toBe(true);
  });
});
