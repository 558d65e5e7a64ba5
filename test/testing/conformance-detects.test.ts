import { BrokerError, type BrokerPort } from "ordersafe";
import {
  createSimulatedBroker,
  runBrokerConformance,
  type SimulatedBroker,
  VirtualClock,
} from "ordersafe/testing";
import { describe, expect, it } from "vitest";

// The suite must fail ports that break a rule: each broken port below breaks one.

type Registered = { name: string; fn: () => Promise<void> };

async function collect(patch: (port: SimulatedBroker) => Partial<BrokerPort>): Promise<Registered[]> {
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

async function failures(patch: (port: SimulatedBroker) => Partial<BrokerPort>): Promise<string[]> {
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

  describe("the order history", () => {
    const historyFails = (failed: string[]) => failed.filter((n) => n.startsWith("orderHistory"));

    it("listed oldest first", async () => {
      const failed = await failures((port) => ({
        listOrders: async (query, opts) => (await port.listOrders(query, opts)).reverse(),
      }));
      expect(historyFails(failed)).toHaveLength(1);
    });

    it("status ignored", async () => {
      const failed = await failures((port) => ({
        listOrders: (query, opts) => port.listOrders({ ...query, status: "all" }, opts),
      }));
      expect(historyFails(failed)).toHaveLength(1);
    });

    it("status open not the default", async () => {
      const failed = await failures((port) => ({
        listOrders: (query, opts) => port.listOrders({ status: "all", ...query }, opts),
      }));
      expect(historyFails(failed)).toHaveLength(1);
    });

    it("after inclusive", async () => {
      const failed = await failures((port) => ({
        listOrders: (query, opts) =>
          port.listOrders(
            query.after === undefined ? query : { ...query, after: new Date(query.after.getTime() - 1) },
            opts,
          ),
      }));
      expect(historyFails(failed)).toHaveLength(1);
    });

    it("limit ignored", async () => {
      const failed = await failures((port) => ({
        listOrders: ({ limit: _limit, ...query }, opts) => port.listOrders(query, opts),
      }));
      expect(historyFails(failed)).toHaveLength(1);
    });

    it("orders refused at submit listed", async () => {
      const failed = await failures((port) => ({
        listOrders: async (query, opts) => [
          ...(await port.listOrders(query, opts)),
          ...port.orders().filter((o) => o.status === "rejected"),
        ],
      }));
      expect(historyFails(failed)).toHaveLength(1);
    });

    it("orderHistory declared without listOrders", async () => {
      const failed = await failures((port) => ({
        capabilities: { ...port.capabilities, orderHistory: true },
        listOrders: undefined,
      }));
      expect(historyFails(failed)).toHaveLength(1);
    });

    it("a port without orderHistory has nothing to check", async () => {
      const failed = await failures((port) => ({
        capabilities: { ...port.capabilities, orderHistory: false },
        listOrders: async () => {
          throw new Error("never called");
        },
      }));
      expect(failed).toEqual([]);
    });
  });

  describe("quotes and replace", () => {
    const fails = (failed: string[], prefix: string) => failed.filter((n) => n.startsWith(prefix));

    it("a quote for an unknown symbol", async () => {
      const failed = await failures((port) => ({
        getLatestQuotes: async (symbols, opts) => {
          const quotes = await port.getLatestQuotes(symbols, opts);
          const q = quotes.get("TECL");
          if (q !== undefined) for (const s of symbols) quotes.set(s, q);
          return quotes;
        },
      }));
      expect(fails(failed, "quotes")).toHaveLength(1);
    });

    it("a replace that answers the old order", async () => {
      const failed = await failures((port) => ({
        replaceOrder: async (orderId, changes, opts) => {
          await port.replaceOrder(orderId, changes, opts);
          const old = port.findOrder(orderId);
          if (old === undefined) throw new Error("unknown");
          return old;
        },
      }));
      expect(fails(failed, "replace")).toHaveLength(1);
    });

    it("a replace that leaves the old order working", async () => {
      const failed = await failures((port) => ({
        replaceOrder: async (orderId, changes, opts) => {
          const old = port.findOrder(orderId);
          if (old === undefined) throw new Error("unknown");
          return port.submitOrder(
            {
              clientOrderId: changes.clientOrderId ?? "x",
              symbol: old.symbol,
              side: old.side,
              type: "limit",
              timeInForce: old.timeInForce,
              qty: old.qty,
              limitPrice: changes.limitPrice ?? old.limitPrice,
            },
            opts,
          );
        },
      }));
      expect(fails(failed, "replace")).toHaveLength(1);
    });

    it("quotes or replace declared without the member", async () => {
      const failed = await failures((port) => ({
        capabilities: { ...port.capabilities, quotes: true, replace: true },
        getLatestQuotes: undefined,
        replaceOrder: undefined,
      }));
      expect(fails(failed, "quotes")).toHaveLength(1);
      expect(fails(failed, "replace")).toHaveLength(1);
    });
  });
});
