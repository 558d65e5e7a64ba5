import fc from "fast-check";
import { Decimal, type OrderSnapshot, type PositionSnapshot } from "ordersafe";
import { VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { ExecutionRecord } from "../../src/account/execution-record.js";
import { judgePosition, type ReadRound, settleReads } from "../../src/account/settle.js";

const SETTLE = { settleMs: 2_000, settleTimeoutMs: 10_000, settlePollMs: 250 };

interface Fill {
  symbol: string;
  qty: number;
  at: number;
}

/** A toy account whose position reads show the fills made at least `lag` ms ago. */
function laggingAccount(fills: Fill[], lags: number[], clock: VirtualClock) {
  let n = 0;
  const used: number[] = [];
  const read = async (): Promise<ReadRound> => {
    const readAt = clock.now();
    const lag = lags[n++ % lags.length] ?? 0;
    used.push(lag);
    const held = new Map<string, number>();
    for (const f of fills) if (f.at <= readAt - lag) held.set(f.symbol, (held.get(f.symbol) ?? 0) + f.qty);
    const positions: PositionSnapshot[] = [...held]
      .filter(([, q]) => q !== 0)
      .map(([symbol, q]) => ({ symbol, qty: new Decimal(q), qtyAvailable: new Decimal(q) }));
    return { positions, readAt };
  };
  return { read, used };
}

function snapshot(i: number, f: Fill): OrderSnapshot {
  return {
    id: `o${i}`,
    clientOrderId: `c${i}`,
    symbol: f.symbol,
    side: f.qty > 0 ? "buy" : "sell",
    type: "market",
    timeInForce: "day",
    qty: new Decimal(Math.abs(f.qty)),
    filledQty: new Decimal(Math.abs(f.qty)),
    filledAvgPrice: new Decimal(1),
    status: "filled",
    updatedAt: new Date(f.at),
  };
}

describe("judgePosition", () => {
  it("is pending until the read matches or ages past the last known fill", () => {
    const record = new ExecutionRecord();
    record.trustPosition("AAA", new Decimal(100));
    record.observe(snapshot(1, { symbol: "AAA", qty: -50, at: 1_000 }), 1_010);
    expect(judgePosition(record, "AAA", new Decimal(50), 1_020, 2_000)).toBe("match");
    expect(judgePosition(record, "AAA", new Decimal(100), 1_020, 2_000)).toBe("pending");
    expect(judgePosition(record, "AAA", new Decimal(100), 3_010, 2_000)).toBe("aged");
  });
});

describe("settleReads", () => {
  it("waits out a lagging read and returns the one that shows the fill", async () => {
    const clock = new VirtualClock();
    const t = clock.now();
    const record = new ExecutionRecord();
    const fills = [
      { symbol: "AAA", qty: 100, at: t - 60_000 },
      { symbol: "AAA", qty: -50, at: t - 10 },
    ];
    record.trustPosition("AAA", new Decimal(100));
    record.observe(snapshot(2, fills[1] as Fill), t);
    const account = laggingAccount(fills, [1_500, 1_500, 0], clock);
    const s = await clock.run(
      settleReads({ ...SETTLE, record, clock, read: account.read, symbols: "all", account: false }),
    );
    expect(s.unsettled).toEqual([]);
    expect(s.positions.find((p) => p.symbol === "AAA")?.qty.toNumber()).toBe(50);
    // Read again after 250 ms (still lagging), then after 500 ms more: it shows the fill, and is
    // used at once (750 ms in), long before it would be trusted by age (2 s).
    expect(s.rounds).toBe(3);
    expect(s.readAt - t).toBe(750);
  });

  it("reports a read that cannot settle within the bound, without waiting past it", async () => {
    const clock = new VirtualClock();
    const t = clock.now();
    const record = new ExecutionRecord();
    record.trustPosition("AAA", new Decimal(100));
    record.observe(snapshot(1, { symbol: "AAA", qty: -50, at: t }), t);
    const account = laggingAccount([{ symbol: "AAA", qty: 100, at: t - 60_000 }], [0], clock);
    const s = await clock.run(
      settleReads({
        settleMs: 20_000,
        settleTimeoutMs: 5_000,
        settlePollMs: 250,
        record,
        clock,
        read: account.read,
        symbols: ["AAA"],
        account: false,
      }),
    );
    expect(s.unsettled).toEqual(["AAA"]);
    expect(clock.now() - t).toBeLessThan(5_000);
  });

  it("never trusts a read that misses a known fill when reads lag at most settleMs (property)", async () => {
    const fillArb = fc.record({
      symbol: fc.constantFrom("AAA", "BBB"),
      sign: fc.constantFrom(1, -1),
      at: fc.integer({ min: -5_000, max: 0 }),
      learnDelay: fc.integer({ min: 0, max: 3_000 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fillArb, { maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: SETTLE.settleMs }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (drawn, lags, withBaseline) => {
          const clock = new VirtualClock();
          const t = clock.now();
          // Distinct powers of two: a read's value names exactly which fills it shows.
          const fills = drawn.map((d, i) => ({ symbol: d.symbol, qty: d.sign * 2 ** i, at: t + d.at }));
          const record = new ExecutionRecord({ clockSkewMs: 0 });
          if (withBaseline) {
            record.trustPosition("AAA", new Decimal(0));
            record.trustPosition("BBB", new Decimal(0));
          }
          drawn.forEach((d, i) => {
            // Learned up to 3 s after it happened, but never in the future.
            if (t + d.at + d.learnDelay <= t)
              record.observe(snapshot(i, fills[i] as Fill), t + d.at + d.learnDelay);
          });
          const account = laggingAccount(fills, lags, clock);
          const s = await clock.run(
            settleReads({ ...SETTLE, record, clock, read: account.read, symbols: "all", account: false }),
          );
          expect(s.unsettled).toEqual([]);
          // The round that settled showed the fills made at least `lag` before it was sent.
          const lag = account.used[account.used.length - 1] ?? 0;
          const shown = new Set(fills.flatMap((f, i) => (f.at <= s.readAt - lag ? [i] : [])));
          // Whether it matched a baseline (values are sums of distinct powers of two, so a
          // match shows exactly the known fills) or aged past them: every known fill is shown.
          for (const i of drawn.keys()) {
            if (record.order(`o${i}`) !== undefined) expect(shown.has(i), `fill ${i}`).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("settleReads without a wait that waits for nothing", () => {
  it("reads again at once when the read was sent before the fill it lacks was known, not a poll later", async () => {
    const clock = new VirtualClock();
    const record = new ExecutionRecord();
    record.trustPosition("AAA", new Decimal(100));
    const at: number[] = [];
    let rounds = 0;
    const read = async (): Promise<ReadRound> => {
      const readAt = clock.now();
      at.push(readAt);
      await clock.sleep(50); // the read is on its way…
      if (rounds++ === 0) {
        // …when the fill is learned (from the stream): this read cannot show it.
        record.observe(snapshot(1, { symbol: "AAA", qty: -40, at: clock.now() }), clock.now());
        return {
          positions: [{ symbol: "AAA", qty: new Decimal(100), qtyAvailable: new Decimal(100) }],
          readAt,
        };
      }
      return { positions: [{ symbol: "AAA", qty: new Decimal(60), qtyAvailable: new Decimal(60) }], readAt };
    };
    const start = clock.now();
    const s = await clock.run(
      settleReads({ ...SETTLE, record, clock, read, symbols: ["AAA"], account: false }),
    );
    expect(s.unsettled).toEqual([]);
    expect(s.rounds).toBe(2);
    // The second round went at once (50 ms in), not after `settlePollMs` (250 ms).
    expect(at.map((t) => t - start)).toEqual([0, 50]);
  });

  it("still waits a poll interval for a read sent after the fill that only lags", async () => {
    const clock = new VirtualClock();
    const record = new ExecutionRecord();
    record.trustPosition("AAA", new Decimal(100));
    record.observe(snapshot(1, { symbol: "AAA", qty: -40, at: clock.now() }), clock.now());
    const { read } = laggingAccount([{ symbol: "AAA", qty: 60, at: clock.now() }], [100], clock);
    const at: number[] = [];
    const start = clock.now();
    const s = await clock.run(
      settleReads({
        ...SETTLE,
        record,
        clock,
        read: async () => {
          at.push(clock.now() - start);
          return read();
        },
        symbols: ["AAA"],
        account: false,
      }),
    );
    expect(s.unsettled).toEqual([]);
    expect(at).toEqual([0, 250]);
  });
});
