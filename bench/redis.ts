// npm run bench:redis — the shared ledger's cost: reserve → bind → release of one buy's hold,
// with 1, 4 and 16 concurrent clients (each its own connection), on a redis-server this bench
// starts (unix socket, persistence off), beside the in-process ledger in the same run.
//
// OPS=2000 cycles per configuration by default (env OPS to change).

import { performance } from "node:perf_hooks";
import { createClient } from "redis";
import { type Coordination, inProcessCoordination } from "../src/index.js";
import { createRedisCoordination } from "../src/redis/index.js";
import { startRedis } from "../test/redis/redis-server.js";

const OPS = Number(process.env.OPS ?? 2_000);
const CAPACITY = 1_000_000_000_000; // $1M in micro-dollars: never the limit here

interface Result {
  name: string;
  clients: number;
  opsPerSec: number;
  p50: number;
  p99: number;
}

async function cycle(c: Coordination, key: string): Promise<void> {
  const r = await c.ledger.reserve({ key, strategyId: "bench", amount: 1_000_000, capacity: CAPACITY });
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  if (!(await c.ledger.bind(key, `coid-${key}`))) throw new Error("bind failed");
  if (!(await c.ledger.release(key))) throw new Error("release failed");
}

async function measure(name: string, coords: Coordination[]): Promise<Result> {
  const per = Math.ceil(OPS / coords.length);
  for (let i = 0; i < 100; i++) await cycle(coords[0]!, `warm-${name}-${i}`);
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    coords.map(async (c, w) => {
      for (let i = 0; i < per; i++) {
        const t = performance.now();
        await cycle(c, `${name}-${coords.length}-${w}-${i}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { name, clients: coords.length, opsPerSec: latencies.length / elapsed, p50: q(0.5), p99: q(0.99) };
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const results: Result[] = [];
  try {
    for (const n of [1, 4, 16]) {
      // Released holds linger 0 ms here: each cycle leaves the hash as it found it.
      const clients = await Promise.all(
        Array.from({ length: n }, async () => {
          const c = createClient({ socket: { path: redis.socket, tls: false } });
          await c.connect();
          return c;
        }),
      );
      const coords = clients.map((client) =>
        createRedisCoordination({ client, account: "PA-BENCH", releaseLingerMs: 0 }),
      );
      results.push(await measure("redis", coords));
      await Promise.all(clients.map((c) => c.quit()));
      const local = inProcessCoordination({ account: "PA-BENCH", releaseLingerMs: 0 });
      results.push(
        await measure(
          "in-process",
          Array.from({ length: n }, () => local),
        ),
      );
    }
  } finally {
    await redis.stop();
  }
  console.log(`reserve → bind → release, ${OPS} cycles per row (3 script calls each on Redis)\n`);
  console.log("| ledger | clients | cycles/s | p50 ms | p99 ms |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.clients} | ${Math.round(r.opsPerSec)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} |`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
