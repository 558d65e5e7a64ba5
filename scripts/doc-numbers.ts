// npm run docs:numbers — the deterministic numbers the docs quote, measured, and written into
// the docs' marked regions:
//
//   <!-- numbers:NAME -->47<!-- /numbers -->
//
// Only counts go here (requests, orders), never timings: they are the same on every machine,
// so CI can check that the committed docs say what the code does.
//
//   tsx scripts/doc-numbers.ts          measure and rewrite the regions
//   tsx scripts/doc-numbers.ts --check  measure and fail if a region differs (CI)

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Decimal, type OrderUpdate, SmartRebalancer } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";
import { type FakeAlpacaServer, startFakeAlpacaServer } from "ordersafe/testing";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const KEY = "PKDOCNUMBERS000000000";
const SECRET = "doc-numbers-secret-0000000000000000000000";

const SELLS = Array.from({ length: 10 }, (_, i) => `S${i}`);
const BUYS = Array.from({ length: 10 }, (_, i) => `B${i}`);

/** A fake Alpaca account holding the 10 sell symbols, and an adapter pointed at it. */
async function rig() {
  const server = await startFakeAlpacaServer({
    keyId: KEY,
    secret: SECRET,
    cash: 1_000,
    prices: Object.fromEntries([...SELLS, ...BUYS].map((s) => [s, 50])),
    positions: Object.fromEntries(SELLS.map((s) => [s, 20])),
    latency: { fillMs: 5 },
  });
  const broker = createAlpacaBroker({
    keyId: KEY,
    secret: SECRET,
    baseUrl: server.baseUrl,
    dataBaseUrl: server.dataBaseUrl,
    streamUrl: server.streamUrl,
    stream: { initialReconnectMs: 20, maxReconnectMs: 100, reconnectJitter: 0, pingIntervalMs: 0 },
  });
  return { server, broker };
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("doc-numbers: timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const count = (server: FakeAlpacaServer) => server.requests().length;

/** The 20-order rebalance driven on the port by hand (docs/alpaca.md, "Cost"). */
async function portFlow(): Promise<number> {
  const { server, broker } = await rig();
  try {
    const fills = new Set<string>();
    const sub = broker.subscribeOrderUpdates({
      onUpdate: (u: OrderUpdate) => {
        if (u.event === "fill") fills.add(u.order.clientOrderId);
      },
    });
    await until(() => server.streamClients() === 1);
    server.resetRequests();
    const all = [...SELLS, ...BUYS];
    await Promise.all([
      broker.getAccount(),
      broker.getPositions(),
      broker.listOpenOrders(),
      broker.getLatestPrices(all),
      broker.getAssets(all),
      broker.getClock(),
    ]);
    const order = (symbol: string, side: "buy" | "sell") =>
      broker.submitOrder({
        clientOrderId: `n-${side}-${symbol}`,
        symbol,
        side,
        type: "market",
        timeInForce: "day",
        ...(side === "sell" ? { qty: new Decimal(10) } : { notional: new Decimal(500) }),
      });
    const sells = await Promise.all(SELLS.map((s) => order(s, "sell")));
    await until(() => sells.every((o) => fills.has(o.clientOrderId)));
    await broker.getAccount();
    const buys = await Promise.all(BUYS.map((s) => order(s, "buy")));
    await until(() => buys.every((o) => fills.has(o.clientOrderId)));
    await broker.getPositions();
    sub.close();
    return count(server);
  } finally {
    await server.close();
  }
}

/**
 * The same 20 orders through SmartRebalancer: sell half of each held symbol, buy $500 of each
 * new one; then the next 20-order run on the account (sell half again, buy as much again),
 * within the TTLs of the asset rules and the clock read.
 */
async function rebalancerFlow(): Promise<{
  requests: number;
  orders: number;
  next: { requests: number; orders: number };
}> {
  const { server, broker } = await rig();
  const quantities = (sell: number, buy: number) =>
    Object.fromEntries([...SELLS.map((s) => [s, sell]), ...BUYS.map((s) => [s, buy])]);
  try {
    const rebalancer = new SmartRebalancer({ broker, seed: 1 });
    server.resetRequests();
    const report = await rebalancer.rebalance({ quantities: quantities(10, 10) }, { runId: "doc-numbers" });
    const requests = count(server);
    server.resetRequests();
    const next = await rebalancer.rebalance({ quantities: quantities(5, 20) }, { runId: "doc-numbers-next" });
    return {
      requests,
      orders: report.orders.length,
      next: { requests: count(server), orders: next.orders.length },
    };
  } finally {
    await server.close();
  }
}

function perOrder(requests: number, orders: number): string {
  return (requests / orders).toFixed(1);
}

async function measure(): Promise<Record<string, string>> {
  const port = await portFlow();
  const smart = await rebalancerFlow();
  return {
    "alpaca-port-requests": String(port),
    "alpaca-port-per-order": perOrder(port, 20),
    "alpaca-rebalancer-orders": String(smart.orders),
    "alpaca-rebalancer-requests": String(smart.requests),
    "alpaca-rebalancer-per-order": perOrder(smart.requests, smart.orders),
    "alpaca-rebalancer-next-orders": String(smart.next.orders),
    "alpaca-rebalancer-next-requests": String(smart.next.requests),
    "alpaca-rebalancer-next-per-order": perOrder(smart.next.requests, smart.next.orders),
  };
}

const REGION = /<!-- numbers:([a-z0-9-]+) -->([\s\S]*?)<!-- \/numbers -->/g;

function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => join("docs", f));
  return ["README.md", ...docs];
}

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  const numbers = await measure();
  const problems: string[] = [];
  const used = new Set<string>();
  for (const file of docFiles()) {
    const text = readFileSync(join(ROOT, file), "utf8");
    const next = text.replace(REGION, (all, name: string, now: string) => {
      const value = numbers[name];
      used.add(name);
      if (value === undefined) {
        problems.push(`${file}: unknown number "${name}"`);
        return all;
      }
      if (now !== value) problems.push(`${file}: ${name} says ${now}, the code gives ${value}`);
      return `<!-- numbers:${name} -->${value}<!-- /numbers -->`;
    });
    if (!check && next !== text) writeFileSync(join(ROOT, file), next);
  }
  for (const [name, value] of Object.entries(numbers))
    console.log(`${name}: ${value}${used.has(name) ? "" : " (unused)"}`);
  const unknown = problems.filter((p) => p.includes("unknown number"));
  if (unknown.length > 0 || (check && problems.length > 0)) {
    for (const p of check ? problems : unknown) console.error(p);
    if (check) console.error("run `npm run docs:numbers` to rewrite them");
    process.exitCode = 1;
    return;
  }
  console.log(
    check ? "docs:numbers: the docs match the code" : `docs:numbers: ${problems.length} region(s) rewritten`,
  );
}

await main();
