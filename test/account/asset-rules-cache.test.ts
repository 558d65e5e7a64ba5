// Asset rules are reused per account within a TTL, and a broker refusal for an asset reason
// drops them: a stale cache never gets an order past the broker's current rules, and the
// next read asks the broker again.

import { ASSET_RULES_CACHE_DEFAULTS, Decimal, SMART_REBALANCER_DEFAULTS, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { accountStateOf } from "../../src/account/account-registry.js";
import { AssetRulesCache } from "../../src/account/asset-rules-cache.js";
import { cachedReadsPort } from "../../src/account/cached-reads-port.js";
import { MarketClockCache } from "../../src/account/market-clock-cache.js";

const rules = (symbol: string, fractionable = true) => ({
  symbol,
  tradable: true,
  fractionable,
  qtyIncrement: new Decimal(fractionable ? "0.000000001" : "1"),
});

describe("AssetRulesCache", () => {
  it("serves rules younger than the TTL, in the order asked, and nothing with a TTL of 0", () => {
    const cache = new AssetRulesCache();
    cache.store([rules("BBB"), rules("AAA")], 1_000);
    expect(cache.fresh(["AAA", "CCC", "BBB", "AAA"], 1_500, 1_000)).toEqual({
      found: [rules("AAA"), rules("BBB")],
      missing: ["CCC"],
    });
    // Exactly the TTL old: read again.
    expect(cache.fresh(["AAA"], 2_000, 1_000).missing).toEqual(["AAA"]);
    expect(cache.fresh(["AAA"], 1_001, 0).missing).toEqual(["AAA"]);
  });

  it("a read sent before a drop cannot put the dropped rules back; a later one can", () => {
    const cache = new AssetRulesCache();
    cache.store([rules("AAA")], 1_000);
    cache.drop("AAA", 2_000);
    expect(cache.fresh(["AAA"], 2_001, 60_000).missing).toEqual(["AAA"]);
    cache.store([rules("AAA")], 1_999); // sent before the refusal, answered after it
    expect(cache.size()).toBe(0);
    cache.store([rules("AAA", false)], 2_000);
    expect(cache.fresh(["AAA"], 2_001, 60_000).found).toEqual([rules("AAA", false)]);
    cache.clear(3_000);
    cache.store([rules("AAA")], 2_500);
    expect(cache.size()).toBe(0);
  });

  it("an older read never replaces a newer one", () => {
    const cache = new AssetRulesCache();
    cache.store([rules("AAA", false)], 2_000);
    cache.store([rules("AAA", true)], 1_000);
    expect(cache.fresh(["AAA"], 2_001, 60_000).found).toEqual([rules("AAA", false)]);
  });
});

describe("cachedReadsPort", () => {
  it("reads only the symbols the cache lacks, and a refusal for an asset reason drops the symbol", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({ clock, cash: 10_000, prices: { AAA: 10, BBB: 20 } });
    const cache = new AssetRulesCache();
    const port = cachedReadsPort(broker, {
      assets: cache,
      marketClock: new MarketClockCache(),
      clock,
      assetRulesTtlMs: 60_000,
      clockTtlMs: 0,
    });
    await clock.run(port.getAssets(["AAA"]));
    const calls = broker.calls.getAssets;
    const both = await clock.run(port.getAssets(["BBB", "AAA"]));
    expect(both.map((a) => a.symbol)).toEqual(["BBB", "AAA"]);
    expect(broker.calls.getAssets).toBe(calls + 1); // BBB only
    await clock.run(port.getAssets(["AAA", "BBB"]));
    expect(broker.calls.getAssets).toBe(calls + 1);

    broker.setAssetRules("AAA", { fractionable: false });
    const refused = await clock
      .run(
        port.submitOrder({
          clientOrderId: "frac-1",
          symbol: "AAA",
          side: "buy",
          type: "market",
          timeInForce: "day",
          qty: new Decimal("1.5"),
        }),
      )
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "not_fractionable" });
    const [aaa] = await clock.run(port.getAssets(["AAA"]));
    expect(aaa?.fractionable).toBe(false);
    expect(broker.calls.getAssets).toBe(calls + 2);
  });
});

/** A broker holding 10 AAA and cash, and a rebalancer on it. */
function world(ttl?: number) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    prices: { AAA: 10, BBB: 20 },
    positions: { AAA: 10 },
    latency: { restMs: 5, fillMs: 10 },
  });
  const rebalancer = new SmartRebalancer({
    broker,
    clock,
    seed: 1,
    ...(ttl === undefined ? {} : { assetRulesTtlMs: ttl }),
  });
  return { clock, broker, rebalancer };
}

describe("SmartRebalancer reuses asset rules per account", () => {
  it("defaults to ASSET_RULES_CACHE_DEFAULTS.ttlMs", () => {
    expect(SMART_REBALANCER_DEFAULTS.assetRulesTtlMs).toBe(ASSET_RULES_CACHE_DEFAULTS.ttlMs);
    expect(Object.isFrozen(ASSET_RULES_CACHE_DEFAULTS)).toBe(true);
  });

  it("a second run within the TTL reads no asset rules; once the TTL passed it reads them again", async () => {
    const { clock, broker, rebalancer } = world(60_000);
    const first = await clock.run(rebalancer.rebalance({ quantities: { AAA: 10, BBB: 5 } }));
    expect(first.status).toBe("completed");
    const read = broker.calls.getAssets;
    expect(read).toBeGreaterThan(0);
    expect(accountStateOf(broker).assets.size()).toBe(2);

    const second = await clock.run(rebalancer.rebalance({ quantities: { AAA: 10, BBB: 10 } }));
    expect(second.status).toBe("completed");
    expect(second.orders.map((o) => `${o.side} ${o.symbol} ${o.state}`)).toEqual(["buy BBB filled"]);
    expect(broker.calls.getAssets).toBe(read);

    await clock.advance(60_000);
    await clock.run(rebalancer.rebalance({ quantities: { AAA: 10, BBB: 10 } }));
    expect(broker.calls.getAssets).toBeGreaterThan(read);
  });

  it("with assetRulesTtlMs 0 every run reads the rules", async () => {
    const { clock, broker, rebalancer } = world(0);
    await clock.run(rebalancer.rebalance({ quantities: { AAA: 10, BBB: 5 } }));
    const read = broker.calls.getAssets;
    await clock.run(rebalancer.rebalance({ quantities: { AAA: 10, BBB: 5 } }));
    expect(broker.calls.getAssets).toBeGreaterThan(read);
  });

  it("rejects a bad TTL before anything is read", () => {
    const { broker } = world();
    expect(() => new SmartRebalancer({ broker, assetRulesTtlMs: -1 })).toThrow(/assetRulesTtlMs/);
  });

  it("stale rules: the broker refuses the order they allowed, nothing is placed, and the next run reads and obeys the new rules", async () => {
    const { clock, broker, rebalancer } = world();
    // Run 1 caches BBB as fractionable.
    await clock.run(rebalancer.rebalance({ quantities: { AAA: 10, BBB: 1 } }));
    expect(accountStateOf(broker).assets.fresh(["BBB"], clock.now(), 60_000).found[0]?.fractionable).toBe(
      true,
    );
    // The broker stops offering fractions of BBB; the cache does not know yet.
    broker.setAssetRules("BBB", { fractionable: false });
    const placedBefore = broker.orders().length;
    const before = broker.calls.getAssets;
    const refused = await clock.run(rebalancer.rebalance({ quantities: { AAA: 10, BBB: 3.5 } }));
    const buy = refused.orders.find((o) => o.symbol === "BBB");
    expect(buy?.state).toBe("submit_failed");
    expect(buy?.errorCode).toBe("not_fractionable");
    expect(broker.calls.getAssets).toBe(before); // planned on the cached rules
    // Nothing the broker's current rules forbid was ever placed.
    // Every order submitted since, refused ones included (status `rejected`: never placed).
    const placedSince = () => broker.orders().slice(placedBefore);
    const forbidden = () =>
      placedSince().filter(
        (o) => o.symbol === "BBB" && o.status !== "rejected" && (o.qty === undefined || !o.qty.isInteger()),
      );
    expect(forbidden()).toEqual([]);
    expect(broker.truth().positions.get("BBB")?.toString()).toBe("1");

    // The refusal dropped BBB's rules: the next run reads them and buys whole shares.
    const next = await clock.run(rebalancer.rebalance({ quantities: { AAA: 10, BBB: 3.5 } }));
    expect(broker.calls.getAssets).toBe(before + 1);
    const whole = next.orders.find((o) => o.symbol === "BBB");
    expect(whole?.state).toBe("filled");
    expect(whole?.filledQty.isInteger()).toBe(true);
    expect(forbidden()).toEqual([]);
    expect(broker.truth().positions.get("BBB")?.isInteger()).toBe(true);
  });
});
