import {
  BROKER_METHODS,
  type BrokerPort,
  checkBroker,
  Decimal,
  isBrokerError,
  isValidationError,
  type ListOrdersQuery,
  type OrderUpdate,
  type OrderUpdateListener,
  WRAPPED_PORT,
} from "ordersafe";
import { describe, expect, it } from "vitest";
import { wrapBrokerPort } from "../../src/broker/checked-broker.js";

const at = new Date("2026-11-25T15:00:00Z");
const goodOrder = {
  id: "o1",
  clientOrderId: "c1",
  symbol: "TECL",
  side: "buy",
  type: "market",
  timeInForce: "day",
  qty: new Decimal(1),
  filledQty: new Decimal(0),
  status: "new",
  updatedAt: at,
};

/** A port whose replies are whatever the test puts in `replies`: a third-party adapter with bugs. */
function portReturning(replies: Record<string, unknown>): { port: BrokerPort; push: (u: unknown) => void } {
  let listener: OrderUpdateListener | undefined;
  const reply = async (name: string) => replies[name];
  const port = {
    id: "buggy",
    capabilities: { fractional: true, notionalOrders: true, closePosition: true, orderUpdates: true },
    getAccount: () => reply("getAccount"),
    getPositions: () => reply("getPositions"),
    getPosition: () => reply("getPosition"),
    getAssets: () => reply("getAssets"),
    getLatestPrices: () => reply("getLatestPrices"),
    getClock: () => reply("getClock"),
    submitOrder: () => reply("submitOrder"),
    getOrder: () => reply("getOrder"),
    getOrderByClientOrderId: () => reply("getOrderByClientOrderId"),
    listOpenOrders: () => reply("listOpenOrders"),
    cancelOrder: () => reply("cancelOrder"),
    closePosition: () => reply("closePosition"),
    subscribeOrderUpdates(l: OrderUpdateListener) {
      listener = l;
      l.onStatus?.("connected");
      return { close() {} };
    },
  } as unknown as BrokerPort;
  return { port, push: (u) => listener?.onUpdate(u as OrderUpdate) };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return isBrokerError(e) ? e.code : "other";
  }
  return undefined;
}

describe("checkBroker", () => {
  it("turns every malformed read reply into BrokerError('protocol'), and a malformed write reply into 'ambiguous'", async () => {
    const { port } = portReturning({
      getAccount: {
        cash: "NaN",
        buyingPower: 1,
        equity: 1,
        currency: "USD",
        tradingBlocked: false,
        asOf: at,
      },
      getPositions: [{ symbol: "X", qty: 1, qtyAvailable: 2 }],
      getPosition: { symbol: "X", qty: "one", qtyAvailable: 0 },
      getAssets: [{ symbol: "X", tradable: true, fractionable: true, qtyIncrement: 0 }],
      getLatestPrices: new Map([["X", -1]]),
      getClock: { isOpen: "yes", nextOpen: at, nextClose: at, asOf: at },
      submitOrder: { ...goodOrder, status: "mystery" },
      getOrder: { ...goodOrder, filledQty: -1 },
      getOrderByClientOrderId: { ...goodOrder, id: "" },
      listOpenOrders: [{ ...goodOrder, side: "short" }],
      closePosition: {},
    });
    const safe = checkBroker(port);
    const results = await Promise.all([
      code(safe.getAccount()),
      code(safe.getPositions()),
      code(safe.getPosition("X")),
      code(safe.getAssets(["X"])),
      code(safe.getLatestPrices(["X"])),
      code(safe.getClock()),
      code(safe.submitOrder({} as never)),
      code(safe.getOrder("o1")),
      code(safe.getOrderByClientOrderId("c1")),
      code(safe.listOpenOrders()),
      code(safe.closePosition("X")),
    ]);
    // A write reached the broker: its order may exist whatever the reply looks like.
    const expected = Array(11).fill("protocol");
    expected[6] = "ambiguous";
    expected[10] = "ambiguous";
    expect(results).toEqual(expected);
  });

  it("passes valid replies and nulls through, converted to ordersafe decimals", async () => {
    const { port } = portReturning({
      getPosition: null,
      getOrder: goodOrder,
      getOrderByClientOrderId: null,
      getLatestPrices: new Map([["X", "12.5"]]),
    });
    const safe = checkBroker(port);
    expect(await safe.getPosition("X")).toBeNull();
    expect(await safe.getOrderByClientOrderId("c1")).toBeNull();
    expect((await safe.getOrder("o1"))?.qty).toBeInstanceOf(Decimal);
    expect((await safe.getLatestPrices(["X"])).get("X")?.toString()).toBe("12.5");
    expect(checkBroker(safe)).toBe(safe);
    expect(safe.id).toBe("buggy");
  });

  it("drops malformed pushed updates, reports them, and delivers valid ones", () => {
    const { port, push } = portReturning({});
    const invalid: unknown[] = [];
    const seen: OrderUpdate[] = [];
    const statuses: string[] = [];
    checkBroker(port, (e) => invalid.push(e)).subscribeOrderUpdates({
      onUpdate: (u) => seen.push(u),
      onStatus: (s) => statuses.push(s),
    });
    push({ event: "fill", order: { ...goodOrder, filledQty: "NaN" }, at });
    push({ event: "new", order: goodOrder, at });
    expect(seen.map((u) => u.event)).toEqual(["new"]);
    expect(invalid).toHaveLength(1);
    expect(isBrokerError(invalid[0], "protocol")).toBe(true);
    expect(statuses).toEqual(["connected"]);
  });
});

describe("checkBroker forwarding", () => {
  it("calls the port's method of the moment, on the port, with the caller's arguments", async () => {
    const { port } = portReturning({ getOrder: goodOrder });
    const safe = checkBroker(port);
    const seen: unknown[] = [];
    // A method replaced after wrapping (a spy, a patched port) is the one called.
    Object.assign(port, {
      getOrder(this: unknown, ...args: unknown[]) {
        seen.push(this, ...args);
        return Promise.resolve(goodOrder);
      },
    });
    const signal = new AbortController().signal;
    expect((await safe.getOrder("o1", { signal }))?.id).toBe("o1");
    expect(seen).toEqual([port, "o1", { signal }]);
  });

  it("passes cancelOrder's reply on as the port resolved it, and its failures as they came", async () => {
    const { port } = portReturning({ cancelOrder: "accepted" });
    const safe = checkBroker(port);
    await expect(safe.cancelOrder("o1")).resolves.toBe("accepted");
    Object.assign(port, {
      cancelOrder() {
        throw new Error("thrown before any promise");
      },
    });
    // A synchronous throw stays synchronous, exactly as the port threw it.
    expect(() => safe.cancelOrder("o1")).toThrow("thrown before any promise");
  });

  it("turns a synchronous throw of a checked call into a rejection", async () => {
    const { port } = portReturning({});
    Object.assign(port, {
      getAccount() {
        throw new Error("sync");
      },
    });
    const call = checkBroker(port).getAccount();
    expect(call).toBeInstanceOf(Promise);
    await expect(call).rejects.toThrow("sync");
  });

  it("reads id and capabilities from the port each time", () => {
    const { port } = portReturning({});
    const safe = checkBroker(port);
    const capabilities = {
      fractional: false,
      notionalOrders: false,
      closePosition: false,
      orderUpdates: false,
    };
    Object.assign(port, { id: "renamed", capabilities });
    expect(safe.id).toBe("renamed");
    expect(safe.capabilities).toBe(capabilities);
  });

  it("has every member of the contract the port has, in the contract's order", () => {
    const safe = checkBroker(portReturning({}).port);
    const optional = ["listOrders", "getLatestQuotes", "replaceOrder"];
    const required = BROKER_METHODS.filter((m) => !optional.includes(m));
    expect(Object.keys(safe)).toEqual(["id", "capabilities", ...required, "subscribeOrderUpdates"]);
    const withHistory = checkBroker(withListOrders(portReturning({}).port, true, async () => []));
    expect(Object.keys(withHistory)).toEqual([
      "id",
      "capabilities",
      ...BROKER_METHODS.filter((m) => m !== "getLatestQuotes" && m !== "replaceOrder"),
      "subscribeOrderUpdates",
    ]);
  });
});

/** The port with a `listOrders` member answering `list`, declaring `orderHistory` or not. */
function withListOrders(
  port: BrokerPort,
  declared: boolean | undefined,
  list: ((query: ListOrdersQuery) => Promise<unknown>) | undefined,
): BrokerPort {
  const capabilities = {
    ...port.capabilities,
    ...(declared === undefined ? {} : { orderHistory: declared }),
  };
  return Object.assign(port, { capabilities }, list === undefined ? {} : { listOrders: list });
}

describe("optional members: listOrders and capabilities.orderHistory", () => {
  it("a port with neither: no member, nothing claimed", () => {
    const safe = checkBroker(portReturning({}).port);
    expect(safe.listOrders).toBeUndefined();
    expect(safe.capabilities.orderHistory).toBeUndefined();
  });

  it("a port declaring orderHistory without the member: claimed not to have it", () => {
    const port = withListOrders(portReturning({}).port, true, undefined);
    const safe = checkBroker(port);
    expect(safe.listOrders).toBeUndefined();
    expect(safe.capabilities.orderHistory).toBe(false);
    // The other capabilities pass through, and the port's object is left alone.
    expect(safe.capabilities.fractional).toBe(true);
    expect(port.capabilities.orderHistory).toBe(true);
    expect(Object.isFrozen(safe.capabilities)).toBe(true);
  });

  it("a port with the member but without the flag: forwarded, not claimed", async () => {
    const port = withListOrders(portReturning({}).port, undefined, async () => [goodOrder]);
    const safe = checkBroker(port);
    expect(safe.capabilities.orderHistory).toBeUndefined();
    expect(safe.capabilities).toBe(port.capabilities);
    expect((await safe.listOrders?.({}))?.map((o) => o.id)).toEqual(["o1"]);
  });

  it("a port with the member and a flag that is not true: not claimed", () => {
    const port = withListOrders(portReturning({}).port, false, async () => []);
    expect(checkBroker(port).capabilities.orderHistory).toBe(false);
    const odd = withListOrders(portReturning({}).port, undefined, async () => []);
    Object.assign(odd, { capabilities: { ...odd.capabilities, orderHistory: "yes" } });
    expect(checkBroker(odd).capabilities.orderHistory).toBe(false);
  });

  it("a port with both: forwarded with its replies checked, claimed", async () => {
    const seen: unknown[] = [];
    let reply: unknown = [goodOrder, { ...goodOrder, id: "o2", qty: "2", createdAt: "2026-11-25T14:00:00Z" }];
    const port = withListOrders(portReturning({}).port, true, async (...args) => {
      seen.push(args);
      return reply;
    });
    const safe = checkBroker(port);
    expect(safe.capabilities.orderHistory).toBe(true);
    const signal = new AbortController().signal;
    const list = await safe.listOrders?.({ status: "all", limit: 2 }, { signal });
    expect(list?.[1]?.qty).toEqual(new Decimal(2));
    expect(list?.[1]?.createdAt).toEqual(new Date("2026-11-25T14:00:00Z"));
    expect(seen).toEqual([[{ status: "all", limit: 2 }, { signal }]]);
    reply = [{ ...goodOrder, status: "teleported" }];
    expect(await code(safe.listOrders!({}))).toBe("protocol");
    reply = { orders: [] };
    expect(await code(safe.listOrders!({}))).toBe("protocol");
  });

  it("a bad query is a ValidationError and the port is not called", async () => {
    let calls = 0;
    const port = withListOrders(portReturning({}).port, true, async () => {
      calls++;
      return [];
    });
    let wrapped = 0;
    const counted = wrapBrokerPort(checkBroker(port), {
      call: (_m, call) => {
        wrapped++;
        return call();
      },
    });
    for (const bad of [{ limit: -1 }, { status: "filled" }, { symbols: [] }, { after: "soon" }, null]) {
      const call = counted.listOrders?.(bad as never);
      expect(call).toBeInstanceOf(Promise);
      const error = await call?.catch((e: unknown) => e);
      expect(isValidationError(error), JSON.stringify(bad)).toBe(true);
    }
    expect(calls).toBe(0);
    expect(wrapped).toBe(0);
    await counted.listOrders?.({ status: "closed" });
    expect([calls, wrapped]).toEqual([1, 1]);
  });
});

describe("WRAPPED_PORT", () => {
  it("every wrapper carries the port it wraps, non-enumerable", () => {
    const { port } = portReturning({});
    const safe = checkBroker(port);
    expect(WRAPPED_PORT).toBe(Symbol.for("ordersafe.port.wrapped"));
    expect(Reflect.get(safe, WRAPPED_PORT)).toBe(port);
    expect(Object.getOwnPropertyDescriptor(safe, WRAPPED_PORT)?.enumerable).toBe(false);
    expect(Object.getOwnPropertySymbols(safe)).toContain(WRAPPED_PORT);
    expect(Object.getOwnPropertySymbols({ ...safe })).not.toContain(WRAPPED_PORT);
    const counted = wrapBrokerPort(safe, { call: (_m, call) => call() });
    expect(Reflect.get(counted, WRAPPED_PORT)).toBe(safe);
    // Following the chain ends at the port itself.
    let inner: BrokerPort = counted;
    while (Reflect.get(inner, WRAPPED_PORT) !== undefined) inner = Reflect.get(inner, WRAPPED_PORT);
    expect(inner).toBe(port);
    // Wrapping a checked port again returns it, with the same mark.
    expect(checkBroker(safe)).toBe(safe);
  });
});
