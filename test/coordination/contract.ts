// One contract for every Coordination: the in-process one (on a VirtualClock) and the Redis
// one (a real redis-server, real time). `advance` moves the coordination's clock.

import fc from "fast-check";
import { type Coordination, isOrdersafeError } from "ordersafe";
import { describe, expect, it } from "vitest";

export interface ContractTarget {
  /** A fresh coordination on a fresh account; `lingerMs` for released holds. */
  make(options?: { releaseLingerMs?: number }): Promise<Coordination>;
  /** Lets `ms` pass on the coordination's clock. */
  advance(ms: number): Promise<void>;
  /** Scale of the time-based cases (ms): long enough for the store to answer in between. */
  unit: number;
  /** fast-check runs of the model property. */
  runs: number;
}

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => "none",
    (e: unknown) => (isOrdersafeError(e) ? e.code : String(e)),
  );

export function coordinationContract(name: string, target: ContractTarget): void {
  const u = target.unit;
  describe(`${name}: lease`, () => {
    it("one holder at a time; renew, holds and release only with the token", async () => {
      const c = await target.make();
      const a = await c.lease.acquire("a", 10 * u);
      expect(a.ok).toBe(true);
      if (!a.ok) return;
      const b = await c.lease.acquire("b", 10 * u);
      expect(b).toMatchObject({ ok: false, heldBy: "a" });
      if (!b.ok) expect(b.retryInMs).toBeGreaterThan(0);
      expect(await c.lease.holds(a.token)).toBe(true);
      expect(await c.lease.holds(`${a.token}x`)).toBe(false);
      expect(await c.lease.renew(`${a.token}x`, 10 * u)).toBe(false);
      expect(await c.lease.release(`${a.token}x`)).toBe(false);
      expect(await c.lease.release(a.token)).toBe(true);
      expect(await c.lease.holds(a.token)).toBe(false);
      const b2 = await c.lease.acquire("b", 10 * u);
      expect(b2.ok).toBe(true);
    });

    it("a lease not renewed lapses and passes to the next taker; the old token holds nothing", async () => {
      const c = await target.make();
      const a = await c.lease.acquire("a", 2 * u);
      if (!a.ok) throw new Error("not acquired");
      await target.advance(u);
      expect(await c.lease.renew(a.token, 2 * u)).toBe(true);
      await target.advance(u);
      expect(await c.lease.holds(a.token)).toBe(true); // renewed: still held
      await target.advance(3 * u);
      expect(await c.lease.holds(a.token)).toBe(false);
      const b = await c.lease.acquire("b", 10 * u);
      expect(b.ok).toBe(true);
      expect(await c.lease.renew(a.token, 10 * u)).toBe(false);
      expect(await c.lease.release(a.token)).toBe(false);
    });

    it("the journal's writes check the fence: a lost lease writes nothing", async () => {
      const c = await target.make();
      const a = await c.lease.acquire("a", 2 * u);
      if (!a.ok) throw new Error("not acquired");
      c.fence(a.token);
      await c.journal.append(c.account, [runStart("r1")]);
      await target.advance(3 * u);
      const b = await c.lease.acquire("b", 10 * u);
      expect(b.ok).toBe(true);
      expect(await codeOf(c.journal.append(c.account, [intent("r1")]))).toBe("lease_lost");
      expect(await codeOf(c.journal.finishRun(c.account, "r1", "completed"))).toBe("lease_lost");
      const { runs } = await c.journal.openRuns(c.account);
      expect(runs.map((r) => r.entries.length)).toEqual([1]);
      if (b.ok) c.fence(b.token);
      await c.journal.append(c.account, [intent("r1")]);
      expect(await c.journal.finishRun(c.account, "r1", "completed")).toBe(true);
    });
  });

  describe(`${name}: ledger`, () => {
    it("reserves within the capacity less every hold, and within the strategy's cap", async () => {
      const c = await target.make();
      expect(await c.ledger.reserve({ key: "k1", strategyId: "a", amount: 600, capacity: 1000 })).toEqual({
        ok: true,
        reserved: 600,
        strategyReserved: 600,
      });
      expect(await c.ledger.reserve({ key: "k2", strategyId: "b", amount: 500, capacity: 1000 })).toEqual({
        ok: false,
        reason: "insufficient",
        available: 400,
      });
      expect(await c.ledger.reserve({ key: "k1", strategyId: "a", amount: 1, capacity: 1000 })).toMatchObject(
        {
          ok: false,
          reason: "exists",
        },
      );
      await c.ledger.setCap("b", 300);
      expect(await c.ledger.reserve({ key: "k2", strategyId: "b", amount: 350, capacity: 1000 })).toEqual({
        ok: false,
        reason: "strategy_cap",
        available: 300,
      });
      expect(
        await c.ledger.reserve({ key: "k2", strategyId: "b", amount: 300, capacity: 1000 }),
      ).toMatchObject({
        ok: true,
        reserved: 900,
        strategyReserved: 300,
      });
      await c.ledger.setCap("b", null);
      expect(
        await c.ledger.reserve({ key: "k3", strategyId: "b", amount: 100, capacity: 1000 }),
      ).toMatchObject({
        ok: true,
        strategyReserved: 400,
      });
      const holds = await c.ledger.holds();
      expect(holds.map((h) => [h.key, h.strategyId, h.amount, h.state]).sort()).toEqual([
        ["k1", "a", 600, "reserved"],
        ["k2", "b", 300, "reserved"],
        ["k3", "b", 100, "reserved"],
      ]);
    });

    it("a request's own strategyCap counts the strategy's live holds and what it spent, not lingering ones", async () => {
      const c = await target.make({ releaseLingerMs: 100 * u });
      const own = { capacity: 1000, strategyCap: 500 };
      expect(await c.ledger.reserve({ key: "a1", strategyId: "a", amount: 300, ...own })).toMatchObject({
        ok: true,
      });
      expect(await c.ledger.reserve({ key: "a2", strategyId: "a", amount: 250, ...own })).toEqual({
        ok: false,
        reason: "strategy_cap",
        available: 200,
      });
      // Another strategy's holds count toward the capacity, not toward a's cap.
      expect(await c.ledger.reserve({ key: "b1", strategyId: "b", amount: 250, ...own })).toMatchObject({
        ok: true,
      });
      expect(await c.ledger.reserve({ key: "a2", strategyId: "a", amount: 200, ...own })).toMatchObject({
        ok: true,
        reserved: 750,
        strategyReserved: 500,
      });
      // a1 filled: released (lingering for the capacity), spent for its requester.
      expect(await c.ledger.bind("a1", "c-a1")).toBe(true);
      expect(await c.ledger.release("a1")).toBe(true);
      expect(await c.ledger.reserve({ key: "a3", strategyId: "a", amount: 1, ...own, spent: 300 })).toEqual({
        ok: false,
        reason: "strategy_cap",
        available: 0,
      });
      expect(await c.ledger.reserve({ key: "a3", strategyId: "a", amount: 300, ...own, spent: 0 })).toEqual({
        ok: false,
        reason: "insufficient",
        available: 250,
      });
      expect(
        await c.ledger.reserve({ key: "a3", strategyId: "a", amount: 250, ...own, spent: 50 }),
      ).toMatchObject({
        ok: true,
      });
      expect((await c.ledger.holds()).reduce((x, h) => x + h.amount, 0)).toBe(1000);
      for (const bad of [{ strategyCap: -1 }, { strategyCap: 1.5 }, { spent: -2 }, { spent: Number.NaN }]) {
        expect(
          await codeOf(c.ledger.reserve({ key: "x", strategyId: "a", amount: 1, capacity: 10_000, ...bad })),
        ).toBe("validation");
      }
    });

    it("an unbound hold expires; a bound one never does; bind fails once expired", async () => {
      const c = await target.make({ releaseLingerMs: 0 });
      await c.ledger.reserve({ key: "unbound", strategyId: "a", amount: 500, capacity: 1000, ttlMs: 2 * u });
      await c.ledger.reserve({ key: "bound", strategyId: "a", amount: 400, capacity: 1000, ttlMs: 2 * u });
      expect(await c.ledger.bind("bound", "coid-1")).toBe(true);
      expect(await c.ledger.bind("bound", "coid-2")).toBe(true);
      await target.advance(3 * u);
      expect(await c.ledger.bind("unbound", "coid-3")).toBe(false);
      const holds = await c.ledger.holds();
      expect(holds).toHaveLength(1);
      expect(holds[0]).toMatchObject({
        key: "bound",
        state: "bound",
        clientOrderIds: ["coid-1", "coid-2"],
        expiresAt: undefined,
      });
      expect(
        await c.ledger.reserve({ key: "k", strategyId: "b", amount: 601, capacity: 1000 }),
      ).toMatchObject({
        ok: false,
        available: 600,
      });
    });

    it("a released hold lingers, then frees its amount; release is idempotent", async () => {
      const c = await target.make({ releaseLingerMs: 2 * u });
      await c.ledger.reserve({ key: "k", strategyId: "a", amount: 1000, capacity: 1000 });
      await c.ledger.bind("k", "coid");
      expect(await c.ledger.release("k")).toBe(true);
      expect(await c.ledger.release("k")).toBe(false);
      expect(await c.ledger.bind("k", "coid-2")).toBe(false);
      expect(await c.ledger.reserve({ key: "k2", strategyId: "a", amount: 1, capacity: 1000 })).toMatchObject(
        {
          ok: false,
          reason: "insufficient",
        },
      );
      await target.advance(3 * u);
      expect(
        await c.ledger.reserve({ key: "k2", strategyId: "a", amount: 1000, capacity: 1000 }),
      ).toMatchObject({
        ok: true,
      });
    });

    it("reconcile releases bound holds whose orders are not open, after the grace", async () => {
      const c = await target.make({ releaseLingerMs: 0 });
      await c.ledger.reserve({ key: "open", strategyId: "a", amount: 100, capacity: 1000 });
      await c.ledger.reserve({ key: "gone", strategyId: "a", amount: 200, capacity: 1000 });
      await c.ledger.reserve({ key: "unbound", strategyId: "a", amount: 300, capacity: 1000 });
      await c.ledger.bind("open", "c-open");
      await c.ledger.bind("gone", "c-gone");
      expect(await c.ledger.reconcile(["c-open"], 5 * u)).toEqual([]); // within the grace
      await target.advance(u);
      expect(await c.ledger.reconcile(["c-open"], 0)).toEqual(["gone"]);
      expect((await c.ledger.holds()).map((h) => h.key).sort()).toEqual(["open", "unbound"]);
    });

    it("refuses amounts that are not integer micro-dollars, before touching the store", async () => {
      const c = await target.make();
      for (const amount of [-1, 1.5, Number.NaN, 2 ** 53]) {
        expect(await codeOf(c.ledger.reserve({ key: "k", strategyId: "a", amount, capacity: 10 }))).toBe(
          "validation",
        );
      }
      expect(await c.ledger.holds()).toEqual([]);
    });

    it("matches a model over random reserve / bind / release sequences; holds never pass the capacity", async () => {
      const op = fc.oneof(
        fc.record({
          t: fc.constant("reserve" as const),
          k: fc.integer({ min: 0, max: 5 }),
          s: fc.constantFrom("a", "b"),
          amount: fc.integer({ min: 1, max: 700 }),
        }),
        fc.record({ t: fc.constant("bind" as const), k: fc.integer({ min: 0, max: 5 }) }),
        fc.record({ t: fc.constant("release" as const), k: fc.integer({ min: 0, max: 5 }) }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(op, { maxLength: 25 }),
          fc.integer({ min: 0, max: 800 }),
          fc.integer({ min: 0, max: 1200 }),
          async (ops, cap, aCap) => {
            const c = await target.make({ releaseLingerMs: 0 });
            await c.ledger.setCap("b", cap);
            const model = new Map<string, { s: string; a: number; st: string }>();
            // Strategy a reserves under a cap of its own, counting what its released holds spent.
            let spentA = 0;
            for (const o of ops) {
              const key = `k${o.k}`;
              if (o.t === "reserve") {
                const total = [...model.values()].reduce((x, h) => x + h.a, 0);
                const mine = [...model.values()].filter((h) => h.s === o.s).reduce((x, h) => x + h.a, 0);
                const own = o.s === "a" ? { strategyCap: aCap, spent: spentA } : {};
                const r = await c.ledger.reserve({
                  key,
                  strategyId: o.s,
                  amount: o.amount,
                  capacity: 1000,
                  ...own,
                });
                const expected = model.has(key)
                  ? "exists"
                  : total + o.amount > 1000
                    ? "insufficient"
                    : (o.s === "b" && mine + o.amount > cap) ||
                        (o.s === "a" && mine + spentA + o.amount > aCap)
                      ? "strategy_cap"
                      : "ok";
                expect(r.ok ? "ok" : r.reason).toBe(expected);
                if (r.ok) model.set(key, { s: o.s, a: o.amount, st: "reserved" });
              } else if (o.t === "bind") {
                const h = model.get(key);
                expect(await c.ledger.bind(key, `c${o.k}`)).toBe(h !== undefined);
                if (h) h.st = "bound";
              } else {
                expect(await c.ledger.release(key)).toBe(model.has(key));
                const h = model.get(key);
                if (h?.s === "a") spentA += h.a;
                model.delete(key);
              }
              const holds = await c.ledger.holds();
              expect(holds.reduce((x, h) => x + h.amount, 0)).toBeLessThanOrEqual(1000);
              expect(holds.map((h) => `${h.key}:${h.state}`).sort()).toEqual(
                [...model].map(([k, h]) => `${k}:${h.st}`).sort(),
              );
            }
          },
        ),
        { numRuns: target.runs, seed: 16 },
      );
    });
  });

  describe(`${name}: rate limiter`, () => {
    it("gives the budget, then says how long to wait; it refills over time", async () => {
      const c = await target.make();
      expect(await c.rateLimiter.take(200)).toBe(0); // a full bucket: 200 a minute
      const wait = await c.rateLimiter.take(3);
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(900); // one request every 300 ms
      await target.advance(wait + u);
      expect(await c.rateLimiter.take(3)).toBe(0);
      expect(await c.rateLimiter.take(200)).toBeGreaterThan(0);
    });
  });

  describe(`${name}: journal`, () => {
    it("keeps the run rules and finds an open run", async () => {
      const c = await target.make();
      await c.journal.append(c.account, [runStart("r1"), intent("r1")]);
      expect(await codeOf(c.journal.append(c.account, [runStart("r1")]))).toBe("invalid_state");
      expect(await codeOf(c.journal.append(c.account, [intent("nope")]))).toBe("invalid_state");
      const { runs } = await c.journal.openRuns(c.account);
      expect(runs.map((r) => [r.runId, r.entries.map((e) => e.type)])).toEqual([
        ["r1", ["run_start", "intent"]],
      ]);
      expect(await c.journal.finishRun(c.account, "r1", "completed")).toBe(true);
      expect(await c.journal.finishRun(c.account, "r1", "completed")).toBe(false);
      expect(await c.journal.compact(c.account)).toMatchObject({ removedRuns: 1, removedEntries: 3 });
      expect((await c.journal.openRuns(c.account)).runs).toEqual([]);
    });
  });
}

export function runStart(runId: string) {
  return {
    type: "run_start" as const,
    runId,
    targets: { weights: { AAA: "0.5" } },
    options: {},
    account: {
      cash: "1000",
      buyingPower: "1000",
      equity: "1000",
      currency: "USD",
      tradingBlocked: false,
      asOf: "2026-01-01T00:00:00.000Z",
    },
    positions: [],
  };
}

export function intent(runId: string) {
  return {
    type: "intent" as const,
    runId,
    symbol: "AAA",
    side: "buy" as const,
    notional: "100",
    orderType: "market" as const,
    reason: "enter",
  };
}
