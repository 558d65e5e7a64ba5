import {
  type AccountSnapshot,
  Decimal,
  type OrderSnapshot,
  ReservationLedger,
  requiredFunds,
} from "ordersafe";
import { describe, expect, it } from "vitest";

const T0 = new Date("2026-01-05T15:00:00Z");
const at = (s: number) => new Date(T0.getTime() + s * 1000);

function account(cash: number, bp: number, asOf: Date, nmbp?: number): AccountSnapshot {
  return {
    cash: new Decimal(cash),
    buyingPower: new Decimal(bp),
    ...(nmbp === undefined ? {} : { nonMarginableBuyingPower: new Decimal(nmbp) }),
    equity: new Decimal(cash),
    currency: "USD",
    tradingBlocked: false,
    asOf,
  };
}

function order(partial: Partial<OrderSnapshot> & { clientOrderId: string }): OrderSnapshot {
  return {
    id: `id-${partial.clientOrderId}`,
    symbol: "TECL",
    side: "buy",
    type: "limit",
    timeInForce: "day",
    filledQty: new Decimal(0),
    status: "new",
    updatedAt: T0,
    ...partial,
  };
}

describe("requiredFunds", () => {
  it("holds market buys at price × (1 + buffer), limit buys at the limit, notional buys at the notional, sells at nothing", () => {
    expect(requiredFunds({ side: "buy", type: "market", qty: new Decimal(10) }, 50).toString()).toBe("515");
    expect(requiredFunds({ side: "buy", type: "market", qty: new Decimal(10) }, 50, "0.05").toString()).toBe(
      "525",
    );
    expect(
      requiredFunds({
        side: "buy",
        type: "limit",
        qty: new Decimal(3),
        limitPrice: new Decimal("20.5"),
      }).toString(),
    ).toBe("61.5");
    expect(requiredFunds({ side: "buy", type: "market", notional: new Decimal("250") }, 99).toString()).toBe(
      "250",
    );
    expect(requiredFunds({ side: "sell", type: "market", qty: new Decimal(10) }, 50).toString()).toBe("0");
  });

  it("refuses to price a quantity market buy without a price", () => {
    expect(() => requiredFunds({ side: "buy", type: "market", qty: new Decimal(1) })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
  });
});

describe("ReservationLedger", () => {
  it("subtracts every open hold from cash, and fills only until a snapshot shows them", () => {
    const ledger = new ReservationLedger();
    expect(ledger.fundingBasis).toBe("cash");
    ledger.reserve("a", 300, at(1));
    expect(ledger.available(account(1000, 1000, at(0))).toString()).toBe("700");
    ledger.acknowledge("a", at(2));
    // cash never reflects a hold: still 700 with a later snapshot
    expect(ledger.available(account(1000, 700, at(3))).toString()).toBe("700");
    ledger.applyFill("a", 100, at(4));
    // a snapshot from before the fill: the fill is charged on top of the remaining hold
    expect(ledger.available(account(1000, 700, at(3))).toString()).toBe("700");
    // a snapshot after the fill: cash shows it, only the remaining 200 is charged
    expect(ledger.available(account(900, 700, at(5))).toString()).toBe("700");
    expect(ledger.get("a")?.remaining.toString()).toBe("200");
  });

  it("with buying_power, charges only orders the snapshot cannot have seen", () => {
    const ledger = new ReservationLedger({ fundingBasis: "buying_power" });
    ledger.reserve("a", 300, at(1));
    expect(ledger.available(account(1000, 2000, at(0))).toString()).toBe("1700");
    ledger.acknowledge("a", at(2));
    expect(ledger.available(account(1000, 2000, at(1))).toString()).toBe("1700");
    // the broker already deducted the hold in a snapshot read strictly after the acknowledgement
    expect(ledger.available(account(1000, 1700, at(3))).toString()).toBe("1700");
  });

  it("counts a tie against the caller: an acknowledgment or fill in the snapshot's own ms is not reflected", () => {
    const tie = new Date(T0.getTime() + 2000);
    const justAfter = new Date(tie.getTime() + 1);
    for (const basis of ["buying_power", "non_marginable_buying_power"] as const) {
      const ledger = new ReservationLedger({ fundingBasis: basis });
      ledger.reserve("a", 300, at(1));
      ledger.acknowledge("a", tie);
      // read in the same ms: the broker may not have the hold yet, so it is charged
      expect(ledger.pendingCharges(account(1000, 2000, tie, 2000)).toString()).toBe("300");
      expect(ledger.available(account(1000, 2000, tie, 2000)).toString()).toBe("1700");
      // if it did have it, the double charge errs on the safe side
      expect(ledger.available(account(1000, 1700, tie, 1700)).toString()).toBe("1400");
      // one ms later the hold is reflected and charged once
      expect(ledger.pendingCharges(account(1000, 1700, justAfter, 1700)).toString()).toBe("0");
      expect(ledger.available(account(1000, 1700, justAfter, 1700)).toString()).toBe("1700");
    }
    const cash = new ReservationLedger({ fundingBasis: "cash" });
    cash.reserve("a", 300, at(1), { acknowledgedAt: at(1) });
    cash.applyFill("a", 100, tie);
    // a fill in the snapshot's own ms counts as not yet in its cash: exact if it is not there,
    // charged twice (the safe side) if it is
    expect(cash.pendingCharges(account(1000, 1000, tie)).toString()).toBe("300");
    expect(cash.available(account(1000, 1000, tie)).toString()).toBe("700");
    expect(cash.available(account(900, 900, tie)).toString()).toBe("600");
    expect(cash.available(account(900, 900, justAfter)).toString()).toBe("700");
  });

  it("two reserves cannot both take the last dollar when the first is acknowledged in the read's ms", () => {
    // the second reserve read the account before the first order reached the broker,
    // and the first submit returned in that same ms
    const t = at(10);
    for (const basis of ["buying_power", "non_marginable_buying_power"] as const) {
      const ledger = new ReservationLedger({ fundingBasis: basis });
      expect(ledger.reserve("k0", 132, t, { snapshot: account(132, 132, t, 132) }).ok).toBe(true);
      ledger.acknowledge("k0", t);
      const r = ledger.reserve("k1", 1, t, { snapshot: account(132, 132, t, 132) });
      expect(r).toMatchObject({ ok: false });
      if (!r.ok) expect(r.available.toString()).toBe("0");
      expect(ledger.totalReserved().toString()).toBe("132");
    }
  });

  it("recompute drops a missing acknowledged order only when the snapshot is strictly later", () => {
    const ledger = new ReservationLedger({ pendingGraceMs: 30_000 });
    ledger.reserve("acked", 100, at(1), { acknowledgedAt: at(5) });
    ledger.reserve("inflight", 50, at(1));
    // same ms as the acknowledgment, and exactly at the end of the grace: both kept
    const tie = ledger.recompute([], account(1000, 1000, at(5)));
    expect(tie.removed).toEqual([]);
    const atGrace = ledger.recompute([], account(1000, 1000, at(31)));
    expect(atGrace.removed).toEqual(["acked"]);
    expect(ledger.get("inflight")).toBeDefined();
    const past = ledger.recompute([], account(1000, 1000, new Date(at(31).getTime() + 1)));
    expect(past.removed).toEqual(["inflight"]);
  });

  it("uses non_marginable_buying_power, falling back to cash when the snapshot lacks it", () => {
    const ledger = new ReservationLedger({ fundingBasis: "non_marginable_buying_power" });
    ledger.reserve("a", 100, at(1), { acknowledgedAt: at(1) });
    expect(ledger.available(account(1000, 4000, at(2), 800)).toString()).toBe("800");
    expect(ledger.available(account(1000, 4000, at(2))).toString()).toBe("900");
  });

  it("never reports less than zero", () => {
    const ledger = new ReservationLedger();
    ledger.reserve("a", 5000, at(1));
    expect(ledger.available(account(1000, 1000, at(2))).toString()).toBe("0");
  });

  it("refuses a reservation the snapshot cannot fund, with the shortfall", () => {
    const ledger = new ReservationLedger();
    ledger.reserve("a", 600, at(1));
    const r = ledger.reserve("b", 500, at(2), { snapshot: account(1000, 1000, at(2)) });
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) {
      expect(r.shortfall.toString()).toBe("100");
      expect(r.available.toString()).toBe("400");
    }
    expect(ledger.get("b")).toBeUndefined();
    expect(ledger.reserve("c", 400, at(2), { snapshot: account(1000, 1000, at(2)) }).ok).toBe(true);
  });

  it("is idempotent on reserve with the same amount and refuses a different amount", () => {
    const ledger = new ReservationLedger();
    ledger.reserve("a", 100, at(1));
    expect(ledger.reserve("a", "100.00", at(5)).ok).toBe(true);
    expect(ledger.size).toBe(1);
    expect(() => ledger.reserve("a", 101, at(5))).toThrow(expect.objectContaining({ code: "invalid_state" }));
  });

  it("releases idempotently and ignores late fills", () => {
    const ledger = new ReservationLedger();
    ledger.reserve("a", 100, at(1));
    expect(ledger.release("a")?.key).toBe("a");
    expect(ledger.release("a")).toBeUndefined();
    expect(ledger.applyFill("a", 10, at(3))).toBeUndefined();
    expect(ledger.size).toBe(0);
  });

  it("treats a fill without a time as not yet reflected", () => {
    const ledger = new ReservationLedger();
    ledger.reserve("a", 100, at(1));
    ledger.applyFill("a", 40);
    expect(ledger.available(account(1000, 1000, at(9))).toString()).toBe("900");
  });

  it("recompute adds orders it missed, drops released ones, keeps in-flight ones and reports drift", () => {
    const ledger = new ReservationLedger({ driftTolerance: 1, pendingGraceMs: 30_000 });
    ledger.reserve("gone", 500, at(1), { acknowledgedAt: at(1) });
    ledger.reserve("inflight", 200, at(50));
    ledger.reserve("late", 70, at(100), { acknowledgedAt: at(100) });
    const open = [
      order({ clientOrderId: "other", qty: new Decimal(2), limitPrice: new Decimal(10), createdAt: at(5) }),
      order({ clientOrderId: "mkt", type: "market", qty: new Decimal(1), createdAt: at(6) }),
      order({ clientOrderId: "sell", side: "sell", qty: new Decimal(1), createdAt: at(6) }),
    ];
    const r = ledger.recompute(open, account(5000, 5000, at(60)), { TECL: 100 });
    expect(r.removed).toEqual(["gone"]);
    expect([...r.added].sort()).toEqual(["mkt", "other"]);
    expect(ledger.get("inflight")).toBeDefined();
    expect(ledger.get("late")).toBeDefined();
    expect(ledger.get("sell")).toBeUndefined();
    expect(ledger.get("other")?.remaining.toString()).toBe("20");
    expect(ledger.get("mkt")?.remaining.toString()).toBe("103");
    expect(r.drift?.kind).toBe("ledger_drift");
    expect(r.drift?.difference.toString()).toBe("-377");
    // an unacknowledged reservation past the grace period is dropped as leaked
    const r2 = ledger.recompute([], account(5000, 5000, at(200)), { TECL: 100 });
    expect([...r2.removed].sort()).toEqual(["inflight", "late", "mkt", "other"]);
  });

  it("recompute without a price keeps the held amount of a market buy and reports it unpriced", () => {
    const ledger = new ReservationLedger();
    ledger.reserve("m", 515, at(1), { acknowledgedAt: at(1) });
    const r = ledger.recompute(
      [order({ clientOrderId: "m", type: "market", qty: new Decimal(10), createdAt: at(1) })],
      account(1000, 1000, at(2)),
    );
    expect(r.unpriced).toEqual(["m"]);
    expect(ledger.get("m")?.remaining.toString()).toBe("515");
    expect(r.drift?.unpriced).toEqual(["m"]);
  });

  it("validates options and arguments", () => {
    expect(() => new ReservationLedger({ fundingBasis: "margin" as "cash" })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => new ReservationLedger({ marketBuyBuffer: -0.1 })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => new ReservationLedger({ extra: 1 } as object)).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    const ledger = new ReservationLedger();
    expect(() => ledger.reserve("", 1, at(0))).toThrow(expect.objectContaining({ code: "validation" }));
    expect(() => ledger.reserve("a", Number.NaN, at(0))).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => ledger.reserve("a", -1, at(0))).toThrow(expect.objectContaining({ code: "validation" }));
    expect(() => ledger.applyFill("a", 0, at(0))).toThrow(expect.objectContaining({ code: "validation" }));
    expect(ledger.size).toBe(0);
  });
});
