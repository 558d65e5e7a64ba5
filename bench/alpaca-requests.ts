// Requests a rebalance costs through the Alpaca adapter, counted by the fake Alpaca server
// (real SDK, real HTTP and WebSocket): a 20-order rebalance (10 sells, 10 buys) with a runId
// through SmartRebalancer, first on a fresh account (asset rules and the clock read), then
// again on the same account within the caches' TTLs (what a bot that rebalances regularly
// pays), beside the reference measured in the same run: the same 20 orders sent one at a
// time on the port, each awaited through the stream with no read at all (the bare SDK's
// submit-and-wait pattern: 1.00 per order, with no settled read, no plan and no check).
// Three rounds; the report's own `metrics.restCalls` beside the server's count.
// Run: npx tsx bench/alpaca-requests.ts
import { Decimal, type OrderUpdate, SmartRebalancer } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";
import { type FakeAlpacaServer, startFakeAlpacaServer } from "ordersafe/testing";

const KEY = "PKBENCHKEY000000";
const SECRET = "bench-secret-value-0000";
const syms = Array.from({ length: 20 }, (_, i) => `A${String.fromCharCode(65 + i)}`);

async function rig() {
  const server = await startFakeAlpacaServer({
    keyId: KEY,
    secret: SECRET,
    cash: "1000",
    prices: Object.fromEntries(syms.map((s) => [s, 50])),
    positions: Object.fromEntries(syms.map((s) => [s, 100])),
    latency: { restMs: 1, fillMs: 10, streamMs: 1 },
  });
  const broker = createAlpacaBroker({
    keyId: KEY,
    secret: SECRET,
    baseUrl: server.baseUrl,
    dataBaseUrl: server.dataBaseUrl,
    streamUrl: server.streamUrl,
    stream: { pingIntervalMs: 0 },
  });
  return { server, broker };
}

function routes(server: FakeAlpacaServer): string {
  const byRoute = new Map<string, number>();
  for (const r of server.requests()) {
    const route = `${r.method} ${r.path.replace(/\/v2\/(assets|orders|positions)\/[^/]+$/, "/v2/$1/{id}")}`;
    byRoute.set(route, (byRoute.get(route) ?? 0) + 1);
  }
  return [...byRoute].map(([k, v]) => `${k} ×${v}`).join(", ");
}

/** One SmartRebalancer run; prints its requests. */
async function measured(
  label: string,
  server: FakeAlpacaServer,
  run: () => ReturnType<SmartRebalancer["rebalance"]>,
) {
  server.resetRequests();
  const t0 = performance.now();
  const report = await run();
  const ms = performance.now() - t0;
  const n = server.requests().length;
  const orders = report.orders.length;
  console.log(
    `  ${label}: ${report.status}, ${orders} orders, ${n} requests (${(n / orders).toFixed(2)} per order), report restCalls ${report.metrics.restCalls}, ${ms.toFixed(0)} ms`,
  );
  console.log(`    ${routes(server)}`);
}

/** The reference: 20 orders one at a time, each awaited through the stream, no reads. */
async function reference(): Promise<void> {
  const { server, broker } = await rig();
  const filled = new Set<string>();
  let waiting: { id: string; done: () => void } | undefined;
  const sub = broker.subscribeOrderUpdates({
    onUpdate: (u: OrderUpdate) => {
      if (u.event !== "fill") return;
      filled.add(u.order.clientOrderId);
      if (waiting?.id === u.order.clientOrderId) waiting.done();
    },
  });
  while (server.streamClients() < 1) await new Promise((r) => setTimeout(r, 5));
  server.resetRequests();
  const t0 = performance.now();
  for (const [i, s] of syms.entries()) {
    const id = `ref-${s}`;
    const fill = new Promise<void>((done) => {
      waiting = { id, done };
    });
    await broker.submitOrder({
      clientOrderId: id,
      symbol: s,
      side: i < 10 ? "sell" : "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(i < 10 ? 97 : 1),
    });
    if (!filled.has(id)) await fill;
  }
  const ms = performance.now() - t0;
  const n = server.requests().length;
  console.log(
    `  reference (one order at a time, awaited through the stream): 20 orders, ${n} requests (${(n / 20).toFixed(2)} per order), ${ms.toFixed(0)} ms`,
  );
  sub.close();
  await server.close();
}

async function once(round: number): Promise<void> {
  console.log(`round ${round}:`);
  const { server, broker } = await rig();
  const rebalancer = new SmartRebalancer({ broker, finalTimeoutMs: 10_000 });
  const weights = (small: number, large: number) =>
    Object.fromEntries(syms.map((s, i) => [s, i < 10 ? small : large]));
  await measured("first run on the account", server, () =>
    rebalancer.rebalance({ weights: weights(0.03, 0.0695) }, { runId: `bench-${round}-a` }),
  );
  await measured("next run, same account", server, () =>
    rebalancer.rebalance({ weights: weights(0.015, 0.0845) }, { runId: `bench-${round}-b` }),
  );
  await server.close();
  await reference();
}

for (let i = 1; i <= 3; i++) await once(i);
process.exit(0);
