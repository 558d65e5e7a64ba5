import { BrokerError, type BrokerPort } from "ordersafe";
import { createSimulatedBroker, runBrokerConformance, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

// The suite must fail ports that break a rule: each broken port below breaks one.

type Registered = { name: string; fn: () => Promise<void> };

async function collect(patch: (port: BrokerPort) => Partial<BrokerPort>): Promise<Registered[]> {
  const tests: Registered[] = [];
  await runBrokerConformance(
    "broken",
    () => {
      const clock = new VirtualClock();
      const sim = createSimulatedBroker({ clock, cash: 10_000, prices: { TECL: 52.6 } });
      const overrides = patch(sim);
      const broker = new Proxy(sim, {
        get: (target, key, receiver) =>
          key in overrides ? overrides[key as keyof BrokerPort] : Reflect.get(target, key, receiver),
      }) as BrokerPort;
      return { broker, driver: { symbol: "TECL", wait: (ms) => clock.advance(ms), timeoutMs: 2_000 } };
    },
    { describe: (_name, fn) => fn(), it: (name, fn) => tests.push({ name, fn }) },
  );
  return tests;
}

async function failures(patch: (port: BrokerPort) => Partial<BrokerPort>): Promise<string[]> {
  const failed: string[] = [];
  for (const t of await collect(patch)) {
    try {
      await t.fn();
    } catch {
      failed.push(t.name);
    }
  }
  return failed;
}

describe("runBrokerConformance catches broken ports", () => {
  it("passes an unbroken port", async () => {
    expect(await failures(() => ({}))).toEqual([]);
  });

  it("an unknown symbol not omitted", async () => {
    const failed = await failures((port) => ({
      getAssets: async (symbols) => {
        const found = await port.getAssets(symbols.filter((s) => s === "TECL"));
        return [...found, ...symbols.filter((s) => s !== "TECL").map((s) => ({ ...found[0]!, symbol: s }))];
      },
    }));
    expect(failed.some((n) => n.startsWith("unknown symbols are omitted"))).toBe(true);
  });

  it("a reused client order id accepted after the order ended", async () => {
    let n = 0;
    const failed = await failures((port) => ({
      submitOrder: (request, opts) =>
        port.submitOrder({ ...request, clientOrderId: `${request.clientOrderId}-${++n}` }, opts),
    }));
    expect(failed.some((n) => n.startsWith("client order ids are refused forever"))).toBe(true);
  });

  it("closePosition when flat not answered not_found", async () => {
    const failed = await failures((port) => ({
      closePosition: async (symbol, opts) => {
        if ((await port.getPosition(symbol)) === null) throw new BrokerError("unavailable", "down");
        return port.closePosition(symbol, opts);
      },
    }));
    expect(failed.some((n) => n.startsWith("closePosition"))).toBe(true);
  });

  it("an aborted signal ignored", async () => {
    const failed = await failures((port) => ({
      getAccount: () => port.getAccount(),
      submitOrder: (request) => port.submitOrder(request),
    }));
    expect(failed.some((n) => n.startsWith("abort"))).toBe(true);
  });

  it("fill updates carrying cumulative instead of per-fill quantities", async () => {
    const failed = await failures((port) => ({
      subscribeOrderUpdates: (listener) =>
        port.subscribeOrderUpdates({
          ...listener,
          onUpdate: (u) =>
            listener.onUpdate(u.fill ? { ...u, fill: { ...u.fill, qty: u.order.filledQty.times(2) } } : u),
        }),
    }));
    expect(failed.some((n) => n.startsWith("connected before updates"))).toBe(true);
  });
});
