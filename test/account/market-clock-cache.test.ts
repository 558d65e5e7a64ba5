// A market clock read is reused until shortly before the open or close it announced (at most
// a TTL), and a refusal because the market is closed drops it.

import {
  BrokerError,
  Decimal,
  MARKET_CLOCK_CACHE_DEFAULTS,
  SMART_REBALANCER_DEFAULTS,
  SmartRebalancer,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { AssetRulesCache } from "../../src/account/asset-rules-cache.js";
import { cachedReadsPort } from "../../src/account/cached-reads-port.js";
import { MarketClockCache } from "../../src/account/market-clock-cache.js";
import { wrapBrokerPort } from "../../src/broker/checked-broker.js";

const MIN = 60_000;
const clockRead = (isOpen: boolean, nextOpen: number, nextClose: number) => ({
  isOpen,
  nextOpen: new Date(nextOpen),
  nextClose: new Date(nextClose),
  asOf: new Date(0),
});

describe("MarketClockCache", () => {
  it("reuses an open session's read until a margin before its close, and a closed one's until before the open", () => {
    const cache = new MarketClockCache();
    const open = clockRead(true, 100 * MIN, 30 * MIN);
    cache.store(open, 0);
    expect(cache.fresh(10 * MIN, 60 * MIN)).toBe(open);
    expect(cache.fresh(29 * MIN - 1, 60 * MIN)).toBe(open);
    expect(cache.fresh(29 * MIN, 60 * MIN)).toBeUndefined(); // a minute before the close
    const closed = clockRead(false, 40 * MIN, 90 * MIN);
    cache.store(closed, 30 * MIN);
    expect(cache.fresh(38 * MIN, 60 * MIN)).toBe(closed);
    expect(cache.fresh(39 * MIN, 60 * MIN)).toBeUndefined();
  });

  it("never past the TTL, never with a TTL of 0, and a read sent before a drop is not kept", () => {
    const cache = new MarketClockCache();
    const open = clockRead(true, 1_000 * MIN, 500 * MIN);
    cache.store(open, 0);
    expect(cache.fresh(15 * MIN - 1, 15 * MIN)).toBe(open);
    expect(cache.fresh(15 * MIN, 15 * MIN)).toBeUndefined();
    expect(cache.fresh(1, 0)).toBeUndefined();
    cache.drop(5 * MIN);
    expect(cache.fresh(5 * MIN, 15 * MIN)).toBeUndefined();
    cache.store(open, 4 * MIN);
    expect(cache.fresh(5 * MIN, 15 * MIN)).toBeUndefined();
    cache.store(open, 5 * MIN);
    expect(cache.fresh(6 * MIN, 15 * MIN)).toBe(open);
  });
});

describe("the clock read through cachedReadsPort", () => {
  it("is sent once within the TTL, and again after a refusal because the market is closed", async () => {
    const clock = new VirtualClock();
    const sim = createSimulatedBroker({ clock, cash: 1_000, prices: { AAA: 10 } });
    // The broker refuses every submit as if the market had closed early.
    const closing = wrapBrokerPort(sim, {
      call: (method, call) =>
        method === "submitOrder" ? Promise.reject(new BrokerError("market_closed", "closed early")) : call(),
    });
    const port = cachedReadsPort(closing, {
      assets: new AssetRulesCache(),
      marketClock: new MarketClockCache(),
      clock,
      assetRulesTtlMs: 0,
      clockTtlMs: MARKET_CLOCK_CACHE_DEFAULTS.ttlMs,
    });
    const first = await clock.run(port.getClock());
    await clock.advance(MIN);
    expect(await clock.run(port.getClock())).toBe(first);
    expect(sim.calls.getClock).toBe(1);
    const refused = await clock
      .run(
        port.submitOrder({
          clientOrderId: "c-1",
          symbol: "AAA",
          side: "buy",
          type: "market",
          timeInForce: "day",
          notional: new Decimal(10),
        }),
      )
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "market_closed" });
    await clock.run(port.getClock());
    expect(sim.calls.getClock).toBe(2);
  });

  it("a second rebalance within the TTL reads no clock; clockTtlMs 0 reads it every run", async () => {
    expect(SMART_REBALANCER_DEFAULTS.clockTtlMs).toBe(MARKET_CLOCK_CACHE_DEFAULTS.ttlMs);
    for (const [ttl, reads] of [
      [undefined, 1],
      [0, 2],
    ] as const) {
      const clock = new VirtualClock();
      const broker = createSimulatedBroker({ clock, cash: 1_000, prices: { AAA: 10 } });
      const r = new SmartRebalancer({ broker, clock, ...(ttl === undefined ? {} : { clockTtlMs: ttl }) });
      await clock.run(r.rebalance({ notionals: { AAA: 100 } }));
      await clock.run(r.rebalance({ notionals: { AAA: 200 } }));
      expect(broker.calls.getClock).toBe(reads);
    }
  });
});
