// One bot process of the multi-process test: an Alpaca adapter on the fake server (real HTTP),
// a node-redis client on the test's redis-server, a SmartRebalancer for its strategy in sleeve
// scope. The parent sends { cmd } over IPC; the child answers each with one message.

import { SmartRebalancer } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";
import { createRedisCoordination } from "ordersafe/redis";
import { createClient } from "redis";

const [socket, baseUrl, dataBaseUrl, streamUrl, strategyId, name] = process.argv.slice(2) as string[];
const KEY = "PKTESTKEY0123456789AB";
const SECRET = "s3cr3t-Secret-Value-0123456789abcdefghij";
const SYMBOLS = ["AAA", "BBB", "CCC"];

const client = createClient({ socket: { path: socket!, tls: false }, disableOfflineQueue: true });
const broker = createAlpacaBroker({
  keyId: KEY,
  secret: SECRET,
  baseUrl: baseUrl!,
  dataBaseUrl: dataBaseUrl!,
  streamUrl: streamUrl!,
  stream: { initialReconnectMs: 20, maxReconnectMs: 100, reconnectJitter: 0, pingIntervalMs: 0 },
});
// The shared request budget is taken for every request as usual, sized for the fake server
// rather than Alpaca's 200 a minute (which would make 500 rounds take many minutes).
const coordination = createRedisCoordination({
  client,
  account: "PA-MULTI",
  releaseLingerMs: 2_000,
  requestsPerMinute: 20_000,
});
const race = createRedisCoordination({ client, account: "PA-LEDGER-RACE", releaseLingerMs: 0 });
const rebalancer = new SmartRebalancer({
  broker,
  coordination,
  strategyId: strategyId!,
  scope: "sleeve",
  leaseTtlMs: 5_000,
  leaseWaitMs: 60_000,
  journalLookupMs: 2_000,
  // Longer than a request to the local fake server can take to land (the lease lapses after 5 s).
  neverPlacedAfterMs: 3_000,
  settleMs: 300,
  lateFillWindowMs: 50,
  recentOrdersMs: 60_000,
});

let seed = [...name!].reduce((s, c) => s * 31 + c.charCodeAt(0), 7) >>> 0;
const rand = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};

const reply = (m: unknown) => process.send?.(m);

async function rebalanceRound(runId: string) {
  const quantities: Record<string, number> = {};
  for (const s of SYMBOLS) if (rand() < 0.6) quantities[s] = Math.floor(rand() * 20);
  const t0 = Date.now();
  const phases: string[] = [];
  const onPhase = (e: { phase: string }) => phases.push(`${e.phase}@${Date.now() - t0}`);
  if (process.env.MP_DEBUG) rebalancer.on("phase", onPhase);
  const report = await rebalancer.rebalance({ quantities }, { runId });
  if (process.env.MP_DEBUG)
    console.error(
      `${name} ${runId} ${report.status} ${Date.now() - t0} ms ${report.orders.length} orders ${phases.join(" ")} end@${Date.now() - t0}`,
    );
  rebalancer.off("phase", onPhase);
  return {
    runId: report.runId,
    status: report.status,
    orders: report.orders.map((o) => ({
      coid: o.clientOrderId,
      symbol: o.symbol,
      side: o.side,
      state: o.state,
      filled: o.filledQty.toFixed(),
      adopted: o.adopted,
      errorCode: o.errorCode,
    })),
    working: report.working.length,
    bpRejections: report.metrics.buyingPowerRejections,
  };
}

/** A reserve → bind → release race on the ledger; checks the holds never pass the capacity. */
async function reserveRound(round: number) {
  const key = `${name}-${round}`;
  const amount = 1 + Math.floor(rand() * 400_000);
  const r = await race.ledger.reserve({ key, strategyId: strategyId!, amount, capacity: 1_000_000 });
  const total = (await race.ledger.holds()).reduce((s, h) => s + h.amount, 0);
  if (r.ok) {
    await race.ledger.bind(key, `c-${key}`);
    await race.ledger.release(key);
  }
  return { ok: r.ok, total };
}

process.on("message", async (m: { cmd: string; rounds?: number; runId?: string }) => {
  try {
    if (m.cmd === "rounds") {
      const runs = [];
      const reserves = [];
      for (let i = 0; i < (m.rounds ?? 0); i++) {
        if (rand() < 0.1) runs.push(await rebalanceRound(`${name}-${i}`));
        else reserves.push(await reserveRound(i));
      }
      reply({ ok: true, runs, reserves });
    } else if (m.cmd === "run") {
      // The parent kills this process once an order of the run is at the broker.
      rebalancer.on("order:submitted", () => reply({ submitted: true }));
      reply({ ok: true, runs: [await rebalanceRound(m.runId!)] });
    }
  } catch (e) {
    reply({ ok: false, code: (e as { code?: string }).code, message: String(e) });
  }
});

await client.connect();
reply({ ready: true });
process.on("disconnect", () => process.exit(0));
