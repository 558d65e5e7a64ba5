import { Decimal, isBrokerError, type OrderSnapshot } from "ordersafe";
import { createSimulatedBroker, type SimulatedBroker, VirtualClock } from "ordersafe/testing";
import { afterEach, describe, expect, it } from "vitest";
import { mapAlpacaOrderHistoryPage } from "../../src/alpaca/alpaca-mapping.js";
import { KEY, type Rig, SECRET, startRig } from "./fake-alpaca.js";

// The order history over real HTTP: the fake Alpaca server's GET /v2/orders, and the
// adapter's listOrders paging through it with the SDK.

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** A rig whose simulated broker runs on a virtual clock, so the test sets every submission time. */
async function virtualRig(): Promise<{ rig: Rig; clock: VirtualClock; sim: SimulatedBroker }> {
  const clock = new VirtualClock();
  const sim = createSimulatedBroker({
    clock,
    cash: 10_000_000,
    prices: { SPY: 500, QQQ: 400, TECL: 50 },
    positions: { TECL: 10 },
  });
  rig = await startRig({ broker: sim });
  return { rig, clock, sim };
}

/** A far limit buy: it stays open. */
function farBuy(clientOrderId: string, symbol = "SPY") {
  return {
    clientOrderId,
    symbol,
    side: "buy" as const,
    type: "limit" as const,
    timeInForce: "day" as const,
    qty: new Decimal(1),
    limitPrice: new Decimal(1),
  };
}

async function get(r: Rig, query: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${r.server.baseUrl}/v2/orders${query}`, {
    headers: { "APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET },
  });
  return { status: res.status, body: await res.json() };
}

const wireIds = (body: unknown) => (body as { client_order_id: string }[]).map((o) => o.client_order_id);
const ids = (list: readonly OrderSnapshot[]) => list.map((o) => o.clientOrderId);

/** Orders 10 ms apart: a filled SPY buy, an open SPY limit, two refused buys, a filled TECL sell, an open QQQ limit. */
async function smallHistory() {
  const v = await virtualRig();
  const { clock, sim } = v;
  const t0 = clock.now();
  await sim.submitOrder({ ...farBuy("s-filled"), type: "market", limitPrice: undefined });
  await clock.advance(10);
  await sim.submitOrder(farBuy("s-open-spy"));
  await clock.advance(10);
  await sim.submitOrder({ ...farBuy("s-refused", "NOPE") }).catch(() => {});
  await sim
    .submitOrder({ ...farBuy("s-refused-bp"), type: "market", limitPrice: undefined, qty: new Decimal(1e6) })
    .catch(() => {});
  await clock.advance(10);
  await sim.submitOrder({
    ...farBuy("s-sold", "TECL"),
    side: "sell",
    type: "market",
    limitPrice: undefined,
  });
  await clock.advance(10);
  await sim.submitOrder(farBuy("s-open-qqq", "QQQ"));
  await clock.runUntilIdle();
  return { ...v, t0 };
}

describe("fake Alpaca server: GET /v2/orders", () => {
  it("status open (default), closed, all; never an order refused at submit", async () => {
    const { rig: r, sim } = await smallHistory();
    expect(sim.orders().filter((o) => o.status === "rejected")).toHaveLength(2);
    expect(wireIds((await get(r, "")).body)).toEqual(["s-open-qqq", "s-open-spy"]);
    expect(wireIds((await get(r, "?status=open")).body)).toEqual(["s-open-qqq", "s-open-spy"]);
    expect(wireIds((await get(r, "?status=closed")).body)).toEqual(["s-sold", "s-filled"]);
    expect(wireIds((await get(r, "?status=all")).body)).toEqual([
      "s-open-qqq",
      "s-sold",
      "s-open-spy",
      "s-filled",
    ]);
    expect(wireIds((await get(r, "?status=all&direction=asc")).body)).toEqual([
      "s-filled",
      "s-open-spy",
      "s-sold",
      "s-open-qqq",
    ]);
  });

  it("after / until (RFC 3339, nanoseconds, offsets) are exclusive on the submission time", async () => {
    const { rig: r, t0 } = await smallHistory();
    const iso = (ms: number) => new Date(t0 + ms).toISOString();
    const q = (params: Record<string, string>) => `?${new URLSearchParams({ status: "all", ...params })}`;
    expect(wireIds((await get(r, q({ after: iso(10) }))).body)).toEqual(["s-open-qqq", "s-sold"]);
    expect(wireIds((await get(r, q({ until: iso(30) }))).body)).toEqual(["s-open-spy", "s-filled"]);
    // A bound inside a ms: the order at the start of that ms is before it.
    const inside = (ms: number) =>
      iso(ms)
        .replace(/Z$/, "")
        .replace(/(\.\d{3})$/, "$1000001Z");
    expect(wireIds((await get(r, q({ until: inside(30) }))).body)).toEqual([
      "s-sold",
      "s-open-spy",
      "s-filled",
    ]);
    expect(wireIds((await get(r, q({ after: inside(30) }))).body)).toEqual(["s-open-qqq"]);
    const offset = new Date(t0 + 20).toISOString().replace("Z", "+00:00");
    expect(wireIds((await get(r, q({ after: offset }))).body)).toEqual(["s-open-qqq", "s-sold"]);
  });

  it("symbols, limit (default 50, at most 500), nested accepted, bad values refused", async () => {
    const { rig: r } = await smallHistory();
    expect(wireIds((await get(r, "?status=all&symbols=QQQ,AAPL")).body)).toEqual(["s-open-qqq"]);
    expect(wireIds((await get(r, "?status=all&limit=2&nested=true")).body)).toEqual(["s-open-qqq", "s-sold"]);
    for (const bad of ["?status=filled", "?direction=up", "?limit=0", "?limit=abc", "?after=yesterday"]) {
      const reply = await get(r, bad);
      expect(reply.status, bad).toBe(422);
      expect(reply.body).toMatchObject({ code: 40010001 });
    }
  });

  it("pages: 50 by default, 500 at most", async () => {
    const { rig: r, sim, clock } = await virtualRig();
    for (let i = 0; i < 520; i++) {
      await sim.submitOrder(farBuy(`p-${i}`));
      await clock.advance(1);
    }
    expect(((await get(r, "")) as { body: unknown[] }).body).toHaveLength(50);
    expect(((await get(r, "?limit=1000")) as { body: unknown[] }).body).toHaveLength(500);
  });
});

describe("adapter: listOrders", () => {
  it("declares orderHistory and lists with the contract's semantics", async () => {
    const { rig: r, t0 } = await smallHistory();
    expect(r.broker.capabilities.orderHistory).toBe(true);
    expect(ids(await r.broker.listOrders!({}))).toEqual(["s-open-qqq", "s-open-spy"]);
    expect(ids(await r.broker.listOrders!({ status: "closed" }))).toEqual(["s-sold", "s-filled"]);
    const all = await r.broker.listOrders!({ status: "all" });
    expect(ids(all)).toEqual(["s-open-qqq", "s-sold", "s-open-spy", "s-filled"]);
    expect(all.find((o) => o.clientOrderId === "s-sold")?.status).toBe("filled");
    expect(
      ids(await r.broker.listOrders!({ status: "all", after: new Date(t0 + 10), until: new Date(t0 + 40) })),
    ).toEqual(["s-sold"]);
    // after is exclusive at the ms the port reports: sent as the last ns of that ms.
    const sent = new URLSearchParams(r.server.requests().at(-1)?.query);
    expect([sent.get("after"), sent.get("until")]).toEqual([
      new Date(t0 + 10).toISOString().replace("Z", "999999Z"),
      new Date(t0 + 40).toISOString(),
    ]);
    expect(ids(await r.broker.listOrders!({ status: "all", symbols: ["SPY", "TECL"], limit: 2 }))).toEqual([
      "s-sold",
      "s-open-spy",
    ]);
    expect(ids(await r.broker.listOrders!({ status: "all", symbols: ["SPY"] }))).toEqual([
      "s-open-spy",
      "s-filled",
    ]);
    const error = await r.broker.listOrders!({ status: "filled" } as never).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "validation" });
  });

  it("pages through 1,234 orders, three sharing each ms, in 3 requests: every order once, newest first", async () => {
    const { rig: r, sim, clock } = await virtualRig();
    for (let i = 0; i < 1_234; i++) {
      await sim.submitOrder(farBuy(`m-${i}`, i % 2 === 0 ? "SPY" : "QQQ"));
      if (i % 3 === 2) await clock.advance(1);
    }
    r.server.resetRequests();
    const listed = await r.broker.listOrders!({ status: "all" });
    const expected = await sim.listOrders({ status: "all" });
    expect(listed).toHaveLength(1_234);
    expect(ids(listed)).toEqual(ids(expected));
    expect(new Set(listed.map((o) => o.id)).size).toBe(1_234);
    const requests = r.server.requests().filter((q) => q.method === "GET" && q.path === "/v2/orders");
    expect(requests).toHaveLength(3);
    expect(r.server.requests()).toHaveLength(3);
    const params = requests.map((q) => new URLSearchParams(q.query));
    expect(params.map((p) => [p.get("status"), p.get("limit"), p.get("direction")])).toEqual(
      Array(3).fill(["all", "500", "desc"]),
    );
    // Each next page ends just past the ms of the last page's oldest order.
    const times = listed.map((o) => o.createdAt?.getTime() ?? 0);
    expect(params[0]?.get("until")).toBeNull();
    expect(params[1]?.get("until")).toBe(new Date((times[499] ?? 0) + 1).toISOString());
    expect(new Date(params[2]?.get("until") ?? "").getTime()).toBeLessThan(times[499] ?? 0);
  });

  it("a limit caps the orders and the pages; a query narrower than a page is one request", async () => {
    const { rig: r, sim, clock } = await virtualRig();
    for (let i = 0; i < 700; i++) {
      await sim.submitOrder(farBuy(`l-${i}`));
      await clock.advance(1);
    }
    r.server.resetRequests();
    expect(ids(await r.broker.listOrders!({ limit: 10 }))).toEqual(
      Array.from({ length: 10 }, (_, i) => `l-${699 - i}`),
    );
    expect(r.server.requests().map((q) => new URLSearchParams(q.query).get("limit"))).toEqual(["10"]);
    r.server.resetRequests();
    const six = await r.broker.listOrders!({ limit: 600 });
    expect(six).toHaveLength(600);
    expect(six.at(-1)?.clientOrderId).toBe("l-100");
    expect(r.server.requests()).toHaveLength(2);
    r.server.resetRequests();
    expect(await r.broker.listOrders!({ status: "open", after: new Date(clock.now()) })).toEqual([]);
    expect(r.server.requests()).toHaveLength(1);
    r.server.resetRequests();
    // Exactly two full pages and no limit: a third, empty page says there are no more.
    for (let i = 0; i < 300; i++) {
      await sim.submitOrder(farBuy(`x-${i}`));
      await clock.advance(1);
    }
    expect(await r.broker.listOrders!({})).toHaveLength(1_000);
    expect(r.server.requests()).toHaveLength(3);
  });

  it("more orders in one ms than a page holds: a protocol error, not a silent gap", async () => {
    const { rig: r, sim } = await virtualRig();
    for (let i = 0; i < 501; i++) await sim.submitOrder(farBuy(`t-${i}`));
    const error = await r.broker.listOrders!({}).catch((e: unknown) => e);
    expect(isBrokerError(error, "protocol")).toBe(true);
    expect(r.server.requests().filter((q) => q.path === "/v2/orders")).toHaveLength(2);
  });

  it("a failed page fails the call; a malformed order is a protocol error", async () => {
    const { rig: r, sim } = await virtualRig();
    await sim.submitOrder(farBuy("f-1"));
    r.server.script({ kind: "http_500", path: "/v2/orders" });
    expect(await r.broker.listOrders!({}).catch((e: unknown) => (isBrokerError(e) ? e.code : e))).toBe(
      "unavailable",
    );
    r.server.script({ kind: "reply", path: "/v2/orders", status: 200, body: [{ id: "x", status: "new" }] });
    expect(await r.broker.listOrders!({}).catch((e: unknown) => (isBrokerError(e) ? e.code : e))).toBe(
      "protocol",
    );
    const aborted = new AbortController();
    const reason = new Error("stop");
    aborted.abort(reason);
    await expect(r.broker.listOrders!({}, { signal: aborted.signal })).rejects.toBe(reason);
  });
});

describe("fake Alpaca server: readLag", () => {
  it("positions and the account lag fills over the wire; the order reads do not", async () => {
    // The server's own options take readLag too; here the broker runs on a virtual clock.
    const clock = new VirtualClock();
    const sim = createSimulatedBroker({
      clock,
      cash: 10_000,
      prices: { SPY: 500 },
      readLag: { getPositions: { minMs: 400, maxMs: 400 }, getAccount: { minMs: 400, maxMs: 400 } },
    });
    rig = await startRig({ broker: sim });
    const r = rig;
    await clock.advance(1_000);
    const order = await r.broker.submitOrder({ ...farBuy("lag-1"), type: "market", limitPrice: undefined });
    await clock.runUntilIdle();
    expect((await r.broker.getOrder(order.id))?.status).toBe("filled");
    expect((await r.broker.listOrders!({ status: "closed" }))[0]?.id).toBe(order.id);
    expect(await r.broker.getPositions()).toEqual([]);
    expect((await r.broker.getAccount()).cash.toString()).toBe("10000");
    await clock.advance(400);
    expect((await r.broker.getPositions()).map((p) => [p.symbol, p.qty.toString()])).toEqual([["SPY", "1"]]);
    expect((await r.broker.getAccount()).cash.toString()).toBe("9500");
    expect(sim.eventLog().filter((e) => e.type === "fault" && e.kind === "read_lag").length).toBeGreaterThan(
      0,
    );
  });

  it("startFakeAlpacaServer accepts readLag among the simulated broker's options", async () => {
    rig = await startRig({ readLag: { getPosition: { minMs: 5, maxMs: 10 } } });
    expect(await rig.broker.getPosition("SPY")).toBeNull();
    const lagged = rig.server.broker.eventLog().filter((e) => e.type === "fault" && e.kind === "read_lag");
    expect(lagged).toEqual([expect.objectContaining({ method: "getPosition", source: "option" })]);
  });
});

describe("mapAlpacaOrderHistoryPage", () => {
  const wire = {
    id: "0b6f2e0a-0000-4000-8000-000000000001",
    client_order_id: "c-1",
    symbol: "AAPL",
    side: "buy",
    type: "market",
    time_in_force: "day",
    qty: "1",
    filled_qty: "0",
    status: "new",
    created_at: "2024-01-02T15:00:00.123456789Z",
    updated_at: "2024-01-02T15:00:00.2Z",
    submitted_at: "2024-01-02T10:00:00.124999999-05:00",
  };

  it("reads each order with its submission time (created_at when submitted_at is absent)", () => {
    const [a, b] = mapAlpacaOrderHistoryPage([wire, { ...wire, submitted_at: null }]);
    expect(a?.submittedAt.toISOString()).toBe("2024-01-02T15:00:00.124Z");
    expect(b?.submittedAt.toISOString()).toBe("2024-01-02T15:00:00.123Z");
    expect(a?.order.clientOrderId).toBe("c-1");
  });

  it("refuses a page that is not an array, or an order without a time", () => {
    for (const bad of [{}, [{ ...wire, submitted_at: "soon", created_at: null }]]) {
      let error: unknown;
      try {
        mapAlpacaOrderHistoryPage(bad);
      } catch (e) {
        error = e;
      }
      expect(isBrokerError(error, "protocol")).toBe(true);
    }
  });
});
