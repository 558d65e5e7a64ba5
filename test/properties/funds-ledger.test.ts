import fc from "fast-check";
import {
  type AccountSnapshot,
  Decimal,
  type FundingBasis,
  type OrderSnapshot,
  type Reservation,
  ReservationLedger,
  ZERO,
} from "ordersafe";
import { describe, expect, it } from "vitest";

// A small model of a broker account: the truth the ledger is checked against.
interface ModelOrder {
  key: string;
  qty: number;
  limit: number;
  filledQty: number;
  ackAt?: number;
  open: boolean;
  released: boolean;
  createdAt: number;
  fills: { qty: number; at: number }[];
}

type Cmd =
  | { op: "reserve"; qty: number; limit: number }
  | { op: "ack"; i: number }
  | { op: "fill"; i: number; part: number }
  | { op: "finish"; i: number; missRelease: boolean }
  | { op: "snapshot"; lagSteps: number };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({
    op: fc.constant("reserve" as const),
    qty: fc.integer({ min: 1, max: 40 }),
    limit: fc.integer({ min: 1, max: 300 }),
  }),
  fc.record({ op: fc.constant("ack" as const), i: fc.nat(50) }),
  fc.record({ op: fc.constant("fill" as const), i: fc.nat(50), part: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant("finish" as const), i: fc.nat(50), missRelease: fc.boolean() }),
  fc.record({ op: fc.constant("snapshot" as const), lagSteps: fc.nat(5) }),
);

const START = Date.UTC(2026, 0, 5, 15, 0, 0);
const STEP = 1000;

/** Whether an event at `event` shows in a read sent at `at`. */
function seen(event: number, at: number, sameMs: boolean): boolean {
  return event < at || (sameMs && event === at);
}

class Model {
  orders: ModelOrder[] = [];
  t = START;
  constructor(readonly initialCash: number) {}
  cashAt(at: number, sameMs: boolean): Decimal {
    let c = new Decimal(this.initialCash);
    for (const o of this.orders)
      for (const f of o.fills) if (seen(f.at, at, sameMs)) c = c.minus(f.qty * o.limit);
    return c;
  }
  holdAt(o: ModelOrder, at: number, sameMs: boolean): Decimal {
    if (!o.open) return ZERO;
    const filled = o.fills.filter((f) => seen(f.at, at, sameMs)).reduce((s, f) => s + f.qty, 0);
    return new Decimal((o.qty - filled) * o.limit);
  }
  /**
   * The account as the broker would report it for a read sent at `at`: it shows the
   * acknowledgments and fills before `at`, and those in the same ms only when `sameMs`
   * (a read and a submit in the same ms can land in either order).
   */
  snapshot(at: number, sameMs = false): AccountSnapshot {
    const cash = this.cashAt(at, sameMs);
    const holds = this.orders
      .filter((o) => o.ackAt !== undefined && seen(o.ackAt, at, sameMs) && seen(o.createdAt, at, sameMs))
      .reduce((s, o) => s.plus(this.holdAt(o, at, sameMs)), ZERO);
    const bp = cash.minus(holds);
    return {
      cash,
      buyingPower: bp,
      nonMarginableBuyingPower: bp,
      equity: new Decimal(this.initialCash),
      currency: "USD",
      tradingBlocked: false,
      asOf: new Date(at),
    };
  }
  /** What can truly still be spent now: cash minus the holds of every open order, acknowledged or not. */
  trueFree(): Decimal {
    const now = this.t;
    return this.orders.reduce((s, o) => s.minus(this.holdAt(o, now, true)), this.cashAt(now, true));
  }
  openOrders(): OrderSnapshot[] {
    return this.orders
      .filter((o) => o.open && o.ackAt !== undefined)
      .map((o) => ({
        id: `id-${o.key}`,
        clientOrderId: o.key,
        symbol: "TECL",
        side: "buy" as const,
        type: "limit" as const,
        timeInForce: "day" as const,
        qty: new Decimal(o.qty),
        limitPrice: new Decimal(o.limit),
        filledQty: new Decimal(o.filledQty),
        ...(o.filledQty > 0 ? { filledAvgPrice: new Decimal(o.limit) } : {}),
        status: o.filledQty > 0 ? ("partially_filled" as const) : ("new" as const),
        createdAt: new Date(o.ackAt as number),
        updatedAt: new Date(this.t),
      }));
  }
}

/**
 * Runs commands against the model and a ledger. Reserves go through `reserve(..., { snapshot })`
 * with a fresh snapshot, so the ledger decides what fits. Returns the last release time so
 * callers know which snapshots are late enough to compare exactly.
 */
function run(
  cmds: readonly Cmd[],
  basis: FundingBasis,
  cash: number,
  onStep: (m: Model, ledger: ReservationLedger, lastRelease: number) => void,
  options: { honourMisses: boolean } = { honourMisses: false },
) {
  const model = new Model(cash);
  const ledger = new ReservationLedger({ fundingBasis: basis, pendingGraceMs: 10 * 60_000 });
  let lastRelease = START;
  let n = 0;
  for (const c of cmds) {
    model.t += STEP;
    const live = model.orders.filter((o) => o.open);
    if (c.op === "reserve") {
      const key = `k${n++}`;
      const amount = c.qty * c.limit;
      const r = ledger.reserve(key, amount, new Date(model.t), { snapshot: model.snapshot(model.t) });
      if (r.ok) {
        model.orders.push({
          key,
          qty: c.qty,
          limit: c.limit,
          filledQty: 0,
          open: true,
          released: false,
          createdAt: model.t,
          fills: [],
        });
      } else {
        expect(r.shortfall.gt(0)).toBe(true);
        expect(r.required.minus(r.available).eq(r.shortfall)).toBe(true);
      }
    } else if (c.op === "ack" && live.length > 0) {
      const o = live[c.i % live.length] as ModelOrder;
      if (o.ackAt === undefined) {
        o.ackAt = model.t;
        ledger.acknowledge(o.key, new Date(model.t));
      }
    } else if (c.op === "fill" && live.length > 0) {
      const o = live[c.i % live.length] as ModelOrder;
      if (o.ackAt !== undefined) {
        const q = Math.min(c.part, o.qty - o.filledQty);
        if (q > 0) {
          o.filledQty += q;
          o.fills.push({ qty: q, at: model.t });
          ledger.applyFill(o.key, q * o.limit, new Date(model.t));
        }
      }
    } else if (c.op === "finish" && live.length > 0) {
      const o = live[c.i % live.length] as ModelOrder;
      if (o.ackAt !== undefined) {
        o.open = false;
        if (!(options.honourMisses && c.missRelease)) {
          o.released = true;
          ledger.release(o.key);
          lastRelease = model.t;
        }
      }
    }
    onStep(model, ledger, lastRelease);
  }
  return { model, ledger };
}

const BASES: FundingBasis[] = ["cash", "buying_power", "non_marginable_buying_power"];

describe("ReservationLedger properties", () => {
  for (const basis of BASES) {
    it(`[${basis}] reservations never exceed what is available: the account is never overspent`, () => {
      fc.assert(
        fc.property(
          fc.array(cmdArb, { maxLength: 60 }),
          fc.integer({ min: 0, max: 20_000 }),
          (cmds, cash) => {
            run(cmds, basis, cash, (m, ledger) => {
              expect(m.trueFree().gte(0)).toBe(true);
              expect(ledger.available(m.snapshot(m.t)).gte(0)).toBe(true);
            });
          },
        ),
        { numRuns: 300 },
      );
    });

    it(`[${basis}] no double count: a snapshot that reflects an order leaves exactly the true free money`, () => {
      fc.assert(
        fc.property(
          fc.array(cmdArb, { maxLength: 60 }),
          fc.integer({ min: 0, max: 20_000 }),
          (cmds, cash) => {
            run(cmds, basis, cash, (m, ledger, lastRelease) => {
              const truth = m.trueFree().toString();
              // the fresh snapshot and any older one taken after the last release: the ledger
              // makes up exactly what each one misses
              for (let at = m.t; at >= lastRelease; at -= STEP) {
                // read in the same ms as this step's event, which it does not show yet
                expect(ledger.available(m.snapshot(at)).toString()).toBe(truth);
                // read 1 ms later: it shows the event, which must not be charged again
                expect(ledger.available(m.snapshot(at + 1)).toString()).toBe(truth);
                // read in the same ms but it does show the event: the tie is charged again,
                // never less than the truth is left over (the safe side)
                const tie = ledger.available(m.snapshot(at, true));
                expect(tie.lte(truth)).toBe(true);
                expect(tie.gte(0)).toBe(true);
              }
            });
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it("release is idempotent", () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 40 }), fc.nat(60), (cmds, pick) => {
        const { model, ledger } = run(cmds, "cash", 50_000, () => {});
        const key = `k${pick}`;
        const once = ledger.clone();
        once.release(key);
        const twice = ledger.clone();
        twice.release(key);
        expect(twice.release(key)).toBeUndefined();
        const snap = model.snapshot(model.t);
        expect(twice.list()).toEqual(once.list());
        expect(twice.available(snap).toString()).toBe(once.available(snap).toString());
      }),
      { numRuns: 300 },
    );
  });

  it("recompute equals the incremental ledger when nothing is missed", () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 60 }), (cmds) => {
        const { model, ledger } = run(cmds, "cash", 50_000, () => {});
        // acknowledge everything still in flight, as the broker would once the submits return
        for (const o of model.orders) {
          if (o.open && o.ackAt === undefined) {
            o.ackAt = model.t;
            ledger.acknowledge(o.key, new Date(model.t));
          }
        }
        const before = ledger.list();
        const snap = model.snapshot(model.t);
        const availableBefore = ledger.available(snap).toString();
        const result = ledger.recompute(model.openOrders(), snap);
        expect(result.drift).toBeUndefined();
        expect(result.added).toEqual([]);
        expect(result.removed).toEqual([]);
        expect(result.resized).toEqual([]);
        const byKey = (rs: readonly Reservation[]) => [...rs].sort((a, b) => a.key.localeCompare(b.key));
        expect(byKey(ledger.list()).map((r) => [r.key, r.amount.toString(), r.remaining.toString()])).toEqual(
          byKey(before).map((r) => [r.key, r.amount.toString(), r.remaining.toString()]),
        );
        expect(ledger.available(snap).toString()).toBe(availableBefore);
      }),
      { numRuns: 300 },
    );
  });

  it("recompute repairs missed releases and reports the drift", () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 60 }), (cmds) => {
        const { model, ledger } = run(cmds, "cash", 50_000, () => {}, { honourMisses: true });
        for (const o of model.orders) {
          if (o.open && o.ackAt === undefined) {
            o.ackAt = model.t;
            ledger.acknowledge(o.key, new Date(model.t));
          }
        }
        const missed = model.orders.filter((o) => !o.open && !o.released);
        const leaked = missed.reduce((s, o) => s.plus(ledger.get(o.key)?.remaining ?? ZERO), ZERO);
        // read strictly after every acknowledgment and fill, so it reflects them all
        const snap = model.snapshot(model.t + 1);
        const result = ledger.recompute(model.openOrders(), snap);
        expect([...result.removed].sort()).toEqual(missed.map((o) => o.key).sort());
        expect(result.ledgerReserved.minus(result.brokerReserved).toString()).toBe(leaked.toString());
        if (leaked.gt(ledger.driftTolerance))
          expect(result.drift?.difference.neg().toString()).toBe(leaked.toString());
        else expect(result.drift).toBeUndefined();
        // after the repair the ledger leaves exactly the true free money, with this snapshot and
        // with one read in the last event's ms that does not show it yet
        expect(ledger.available(snap).toString()).toBe(model.trueFree().toString());
        expect(ledger.available(model.snapshot(model.t)).toString()).toBe(model.trueFree().toString());
        for (const o of missed) expect(ledger.get(o.key)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});
