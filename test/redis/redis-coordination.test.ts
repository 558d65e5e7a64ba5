import { Redis as IORedis } from "ioredis";
import { isOrdersafeError, SmartRebalancer, systemClock } from "ordersafe";
import { createRedisCoordination, fromIoredis } from "ordersafe/redis";
import { createSimulatedBroker } from "ordersafe/testing";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coordinationContract } from "../coordination/contract.js";
import { startRedis, type TestRedis } from "./redis-server.js";

// The coordination contract on a real redis-server, through node-redis and through ioredis.

let redis: TestRedis;
let client: ReturnType<typeof createClient>;
let io: IORedis;
let n = 0;

beforeAll(async () => {
  redis = await startRedis();
  client = createClient({ socket: { path: redis.socket, tls: false }, disableOfflineQueue: true });
  await client.connect();
  io = new IORedis({ path: redis.socket, lazyConnect: true, enableOfflineQueue: false });
  await io.connect();
});
afterAll(async () => {
  await client?.quit().catch(() => undefined);
  io?.disconnect();
  await redis?.stop();
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

coordinationContract("redis (node-redis)", {
  async make(options = {}) {
    n++;
    return createRedisCoordination({ client, account: `PA-${n}`, keyPrefix: "t:", ...options });
  },
  advance: sleep,
  unit: 60,
  runs: 25,
});

coordinationContract("redis (ioredis)", {
  async make(options = {}) {
    n++;
    return createRedisCoordination({
      client: fromIoredis(io),
      account: `PA-${n}`,
      keyPrefix: "io:",
      ...options,
    });
  },
  advance: sleep,
  unit: 60,
  runs: 10,
});

describe("redis coordination", () => {
  it("keeps every key of an account under its prefix and hash tag", async () => {
    const c = createRedisCoordination({ client, account: "PA-keys", keyPrefix: "k:" });
    await c.ledger.reserve({ key: "x", strategyId: "a", amount: 1, capacity: 10 });
    const g = await c.lease.acquire("h", 1000);
    expect(g.ok).toBe(true);
    await c.rateLimiter.take();
    await c.journal.append("PA-keys", [
      {
        type: "run_start",
        runId: "r",
        targets: { weights: {} },
        options: {},
        account: {
          cash: "1",
          buyingPower: "1",
          equity: "1",
          currency: "USD",
          tradingBlocked: false,
          asOf: "2026-01-01T00:00:00.000Z",
        },
        positions: [],
      },
    ]);
    expect((await client.keys("k:*")).sort()).toEqual([
      "k:{PA-keys}:holds",
      "k:{PA-keys}:journal",
      "k:{PA-keys}:lease",
      "k:{PA-keys}:rate",
    ]);
  });

  it("16 concurrent clients never reserve past the capacity together", async () => {
    const clients = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const c = createClient({ socket: { path: redis.socket, tls: false } });
        await c.connect();
        return c;
      }),
    );
    try {
      const coords = clients.map((c) =>
        createRedisCoordination({ client: c, account: "PA-race", keyPrefix: "race:" }),
      );
      const results = await Promise.all(
        coords.flatMap((c, i) =>
          Array.from({ length: 10 }, (_, j) =>
            c.ledger.reserve({
              key: `k${i}-${j}`,
              strategyId: i % 2 ? "a" : "b",
              amount: 7_000_000,
              capacity: 500_000_000,
            }),
          ),
        ),
      );
      const ok = results.filter((r) => r.ok).length;
      expect(ok).toBe(Math.floor(500 / 7)); // exactly as many as fit: none more, none lost
      const holds = await coords[0]!.ledger.holds();
      expect(holds.reduce((s, h) => s + h.amount, 0)).toBe(ok * 7_000_000);
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it("Redis down: every call is coordination_unavailable, quickly, never a hang", async () => {
    const down = await startRedis();
    const c = createClient({
      socket: { path: down.socket, tls: false, reconnectStrategy: false },
      disableOfflineQueue: true,
    });
    c.on("error", () => undefined);
    await c.connect();
    const coord = createRedisCoordination({ client: c, account: "PA-down", commandTimeoutMs: 500 });
    expect((await coord.lease.acquire("a", 1000)).ok).toBe(true);
    await down.stop();
    const calls = [
      coord.lease.acquire("b", 1000),
      coord.ledger.reserve({ key: "k", strategyId: "a", amount: 1, capacity: 10 }),
      coord.ledger.bind("k", "c"),
      coord.rateLimiter.take(),
      coord.journal.openRuns("PA-down"),
    ];
    for (const call of calls) {
      const e = await call.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isOrdersafeError(e) && e.code).toBe("coordination_unavailable");
    }
  });

  it("a server that lost its script cache runs the script again (NOSCRIPT → EVAL)", async () => {
    const c = createRedisCoordination({ client, account: "PA-flush", keyPrefix: "f:" });
    expect((await c.lease.acquire("a", 1000)).ok).toBe(true);
    await client.scriptFlush();
    expect((await c.lease.acquire("b", 1000)).ok).toBe(false);
  });

  it("refuses a client without the script methods", () => {
    try {
      // @ts-expect-error: not a client
      createRedisCoordination({ client: {}, account: "A" });
      expect.unreachable();
    } catch (e) {
      expect(isOrdersafeError(e) && e.code).toBe("validation");
    }
  });
});

describe("strategyCap on Redis", () => {
  it("a buy that would take the strategy past its cap, beside what the run spent, is not sent", async () => {
    // Real time: the ledger's clock is the server's. The broker answers in a few ms.
    const broker = createSimulatedBroker({
      clock: systemClock,
      seed: 9,
      cash: 10_000,
      prices: { AAA: 10, BBB: 20, CCC: 50 },
      latency: { restMs: 1, fillMs: 5 },
    });
    const coordination = createRedisCoordination({ client, account: "PA-cap", keyPrefix: "cap:" });
    // Another process of the strategy holds $300 (the buys reserve AAA $1,000, BBB $800, CCC $500).
    await coordination.ledger.reserve({
      key: "elsewhere",
      strategyId: "alpha",
      amount: 300_000_000,
      capacity: 10_000_000_000,
    });
    const rebalancer = new SmartRebalancer({
      broker,
      coordination,
      strategyId: "alpha",
      scope: "sleeve",
      concurrency: 1,
      strategyCap: 1_900,
      settleMs: 0,
      lateFillWindowMs: 0,
    });
    const report = await rebalancer.rebalance({ quantities: { AAA: 100, BBB: 40, CCC: 10 } });
    // The first of AAA and BBB fits ($300 + $1,000 or $800); the second does not beside it, CCC may.
    const capped = report.orders.filter((o) => o.errorCode === "strategy_cap");
    expect(capped.length).toBeGreaterThanOrEqual(1);
    for (const o of capped) expect(broker.orders().some((b) => b.symbol === o.symbol)).toBe(false);
    const spent = report.orders.reduce((x, o) => x + o.filledNotional.toNumber(), 0);
    expect(300 + spent).toBeLessThanOrEqual(1_900);
    expect(report.orders.some((o) => o.state === "filled")).toBe(true);
    expect(report.adjustments.some((a) => a.reason === "strategy_cap")).toBe(true);
  });
});
