// Requests a rebalance costs through the Alpaca adapter, counted by the fake Alpaca server
// (real SDK, real HTTP and WebSocket): a 20-order rebalance (10 sells, 10 buys) through
// SmartRebalancer, three times, with the report's own `metrics.restCalls` beside the
// server's count. Run: npx tsx bench/alpaca-requests.ts
import { SmartRebalancer } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";
import { startFakeAlpacaServer } from "ordersafe/testing";

const KEY = "PKBENCHKEY000000";
const SECRET = "bench-secret-value-0000";

async function once(run: number): Promise<void> {
  const syms = Array.from({ length: 20 }, (_, i) => `A${String.fromCharCode(65 + i)}`);
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
  const weights = Object.fromEntries(syms.map((s, i) => [s, i < 10 ? 0.03 : 0.0695]));
  server.resetRequests();
  const report = await new SmartRebalancer({ broker, finalTimeoutMs: 10_000 }).rebalance({ weights });
  const requests = server.requests();
  const byRoute = new Map<string, number>();
  for (const r of requests) {
    const route = `${r.method} ${r.path.replace(/\/v2\/(assets|orders|positions)\/[^/]+$/, "/v2/$1/{id}")}`;
    byRoute.set(route, (byRoute.get(route) ?? 0) + 1);
  }
  const orders = report.orders.length;
  console.log(
    `run ${run}: ${report.status}, ${orders} orders, ${requests.length} requests (${(requests.length / orders).toFixed(2)} per order), report restCalls ${report.metrics.restCalls}`,
  );
  console.log(`  ${[...byRoute].map(([k, v]) => `${k} ×${v}`).join(", ")}`);
  await server.close();
}

for (let i = 1; i <= 3; i++) await once(i);
process.exit(0);
