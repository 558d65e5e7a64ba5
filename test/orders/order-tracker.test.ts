import {
  Decimal,
  type FinalOrderState,
  isBrokerError,
  ORDER_TRACKER_DEFAULTS,
  type OrderRequest,
  OrderTracker,
  type OrderTrackerOptions,
} from "ordersafe";
import {
  createSimulatedBroker,
  type SimulatedBroker,
  type SimulatedBrokerOptions,
  VirtualClock,
} from "ordersafe/testing";
import { afterEach, describe, expect, it } from "vitest";

const trackers: OrderTracker[] = [];
afterEach(() => {
  for (const t of trackers.splice(0)) t.close();
});

async function setup(
  sim: SimulatedBrokerOptions = {},
  opts: Partial<OrderTrackerOptions> = {},
): Promise<{ clock: VirtualClock; broker: SimulatedBroker; tracker: OrderTracker; log: string[] }> {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 1_000_000,
    prices: { TECL: 50, FNGU: 33 },
    latency: { restMs: 10, fillMs: 200, streamMs: 5 },
    ...sim,
  });
  const tracker = new OrderTracker({ broker, clock, ...opts });
  trackers.push(tracker);
  const log: string[] = [];
  tracker.on("stream:down", ({ reason }) => log.push(`down:${reason}`));
  tracker.on("stream:up", () => log.push("up"));
  tracker.on("order:final", (f) => log.push(`final:${f.clientOrderId}:${f.status}`));
  tracker.on("illegal_transition", (i) => log.push(`illegal:${i.from}->${i.to}`));
  expect(await clock.run(tracker.waitForHealthyStream())).toBe(true);
  broker.resetCalls();
  log.length = 0;
  return { clock, broker, tracker, log };
}

function req(clientOrderId: string, over: Partial<OrderRequest> = {}): OrderRequest {
  return {
    clientOrderId,
    symbol: "TECL",
    side: "buy",
    type: "market",
    timeInForce: "day",
    qty: new Decimal(10),
    ...over,
  };
}

async function submitAndTrack(
  clock: VirtualClock,
  broker: SimulatedBroker,
  tracker: OrderTracker,
  r: OrderRequest,
) {
  const snapshot = await clock.run(broker.submitOrder(r));
  tracker.track(snapshot);
  return snapshot;
}

const restReads = (b: SimulatedBroker) =>
  b.calls.getOrder + b.calls.getOrderByClientOrderId + b.calls.listOpenOrders + b.calls.cancelOrder;

describe("OrderTracker on a healthy stream", () => {
  it("follows market orders to filled with no REST call beyond the submit", async () => {
    const { clock, broker, tracker } = await setup({ partialFills: { probability: 0.5, parts: 3 } });
    const ids = Array.from({ length: 20 }, (_, i) => `h-${i}`);
    for (const id of ids) await submitAndTrack(clock, broker, tracker, req(id));
    const finals = await clock.run(
      Promise.all(ids.map((id) => tracker.waitForFinal(id, { timeoutMs: 30_000 }))),
    );
    expect(finals.map((f) => f.status)).toEqual(ids.map(() => "filled"));
    expect(finals.every((f) => f.filledQty.eq(10) && f.filledAvgPrice?.eq(50))).toBe(true);
    expect(broker.calls.submitOrder).toBe(20);
    expect(restReads(broker)).toBe(0);
    expect(tracker.stats().restCalls).toBe(0);
    expect(Object.values(tracker.stats().restCallsByOrder)).toEqual(ids.map(() => 0));
  });

  it("counts each fill once through duplicated and reordered updates", async () => {
    const { clock, broker, tracker, log } = await setup({ partialFills: { probability: 1, parts: 3 } });
    let filled = new Decimal(0);
    tracker.on("order:fill", (f) => {
      filled = filled.plus(f.qty);
    });
    // The reorder swaps the first two updates ("new" and the first partial fill).
    broker.script({ kind: "stream_reorder" });
    broker.script({ kind: "stream_duplicate", times: 3 });
    await submitAndTrack(clock, broker, tracker, req("dup"));
    const final = await clock.run(tracker.waitForFinal("dup", { timeoutMs: 30_000 }));
    expect(final.status).toBe("filled");
    expect(final.filledQty.toString()).toBe("10");
    expect(filled.toString()).toBe("10");
    expect(final.filledNotional.toString()).toBe("500");
    expect(log.filter((l) => l.startsWith("illegal"))).toEqual([]);
    expect(restReads(broker)).toBe(0);
  });

  it("keeps the partial fill of an order canceled mid-way", async () => {
    const { clock, broker, tracker } = await setup({ partialFills: { probability: 1, parts: 2 } });
    const snap = await submitAndTrack(clock, broker, tracker, req("pc"));
    const firstFill = new Promise<void>((resolve) => tracker.once("order:fill", () => resolve()));
    await clock.run(firstFill);
    await clock.run(broker.cancelOrder(snap.id));
    const final = await clock.run(tracker.waitForFinal(snap.id, { timeoutMs: 30_000 }));
    expect(final.status).toBe("canceled");
    expect(final.filledQty.toString()).toBe("5");
    expect(final.filledQty.toString()).toBe(broker.findOrder(snap.id)?.filledQty.toString());
  });

  it("applies a fill that arrives after canceled", async () => {
    const { clock, broker, tracker, log } = await setup();
    broker.script({ kind: "fill_after_cancel" });
    const snap = await submitAndTrack(
      clock,
      broker,
      tracker,
      req("fac", { type: "limit", limitPrice: new Decimal(40) }),
    );
    await clock.run(broker.cancelOrder(snap.id));
    const final = await clock.run(tracker.waitForFinal("fac", { timeoutMs: 30_000 }));
    expect(final.status).toBe("canceled");
    expect(final.filledQty.toString()).toBe("0");
    await clock.advance(1_000);
    const state = tracker.getState("fac");
    expect(broker.findOrder(snap.id)?.filledQty.toString()).toBe("10");
    expect(state?.filledQty.toString()).toBe("10");
    expect(["canceled", "filled"]).toContain(state?.status);
    expect(log.filter((l) => l.startsWith("illegal"))).toEqual([]);
  });
});

describe("OrderTracker when the stream fails", () => {
  it("finds by REST an order that filled while the stream was silent (the phantom timeout)", async () => {
    const { clock, broker, tracker, log } = await setup({}, { quietAfterMs: 600_000 });
    broker.script({ kind: "stream_silence", ms: 600_000 });
    await submitAndTrack(clock, broker, tracker, req("silent"));
    const final = await clock.run(tracker.waitForFinal("silent", { timeoutMs: 10_000 }));
    expect(final.status).toBe("filled");
    expect(final.filledQty.toString()).toBe("10");
    expect(tracker.stats().restCallsByOrder.silent).toBe(1);
    expect(log).toContain("final:silent:filled");
  });

  it("checks a quiet order by REST before any timeout", async () => {
    const { clock, broker, tracker } = await setup({}, { quietAfterMs: 3_000 });
    broker.script({ kind: "stream_drop", times: 5 });
    await submitAndTrack(clock, broker, tracker, req("quiet"));
    const started = clock.now();
    const final = await clock.run(tracker.waitForFinal("quiet", { timeoutMs: 60_000 }));
    expect(final.status).toBe("filled");
    expect(clock.now() - started).toBeLessThan(10_000);
    expect(broker.calls.getOrder).toBe(1);
  });

  it("polls while disconnected and re-reads open orders before declaring the stream up", async () => {
    const { clock, broker, tracker, log } = await setup({ partialFills: { probability: 1, parts: 2 } });
    broker.script({ kind: "stream_disconnect", downMs: 10_000 });
    await submitAndTrack(clock, broker, tracker, req("dc"));
    await clock.advance(100);
    expect(tracker.isStreamHealthy()).toBe(false);
    const final = await clock.run(tracker.waitForFinal("dc", { timeoutMs: 60_000 }));
    expect(final.status).toBe("filled");
    expect(final.filledQty.toString()).toBe("10");
    expect(log[0]).toBe("down:disconnected");
    await clock.advance(15_000);
    expect(log.at(-1)).toBe("up");
    expect(tracker.isStreamHealthy()).toBe(true);
    expect(tracker.stats().listOpenOrdersCalls).toBe(1);
    expect(broker.calls.getOrder).toBeGreaterThanOrEqual(1);
  });

  it("on reconnect finds what happened to a tracked order while the stream was down", async () => {
    const { clock, broker, tracker, log } = await setup(
      {},
      { pollIntervalMs: 600_000, quietAfterMs: 600_000 },
    );
    await submitAndTrack(clock, broker, tracker, req("rs", { type: "limit", limitPrice: new Decimal(45) }));
    await clock.advance(1_000);
    expect(tracker.getState("rs")?.status).toBe("new");
    broker.disconnectStream(5_000);
    await clock.advance(100);
    broker.setPrice("TECL", 44);
    await clock.advance(1_000);
    expect(tracker.getState("rs")?.status).toBe("new");
    let statusAtUp: string | undefined;
    tracker.once("stream:up", () => {
      statusAtUp = tracker.getState("rs")?.status;
    });
    await clock.advance(5_000);
    expect(statusAtUp).toBe("filled");
    expect(log).toEqual(["down:disconnected", "final:rs:filled", "up"]);
  });

  it("holds waitForHealthyStream while down and reports a timeout as false", async () => {
    const { clock, broker, tracker } = await setup();
    broker.disconnectStream(30_000);
    await clock.advance(10);
    expect(tracker.isStreamHealthy()).toBe(false);
    expect(await clock.run(tracker.waitForHealthyStream({ timeoutMs: 5_000 }))).toBe(false);
    expect(await clock.run(tracker.waitForHealthyStream({ timeoutMs: 60_000 }))).toBe(true);
  });

  it("marks the stream silent when REST finds a change it never delivered, and polls other open orders", async () => {
    const { clock, broker, tracker, log } = await setup({}, { quietAfterMs: 10_000, pollIntervalMs: 1_000 });
    await submitAndTrack(clock, broker, tracker, req("rest", { type: "limit", limitPrice: new Decimal(40) }));
    broker.script({ kind: "stream_silence", ms: 600_000 });
    await submitAndTrack(clock, broker, tracker, req("s1"));
    const final = await clock.run(tracker.waitForFinal("s1", { timeoutMs: 60_000 }));
    expect(final.status).toBe("filled");
    expect(log).toContain("down:silent");
    expect(tracker.isStreamHealthy()).toBe(false);
    expect(tracker.getState("rest")?.status).toBe("new");
    // A new connection is not known to be silent: after the re-read it is healthy again.
    broker.disconnectStream(1_000);
    await clock.advance(3_000);
    expect(tracker.isStreamHealthy()).toBe(true);
    expect(log.at(-1)).toBe("up");
    broker.setPrice("TECL", 39);
    const other = await clock.run(tracker.waitForFinal("rest", { timeoutMs: 60_000 }));
    expect(other.status).toBe("filled");
    expect(tracker.isStreamHealthy()).toBe(true);
  });
});

describe("ORDER_TRACKER_DEFAULTS", () => {
  it("is frozen", () => {
    expect(Object.isFrozen(ORDER_TRACKER_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(ORDER_TRACKER_DEFAULTS.backoff)).toBe(true);
  });

  it("a tracker without options polls an open order every pollIntervalMs while the stream is down", async () => {
    const { clock, broker, tracker } = await setup();
    let downAt: number | undefined;
    tracker.on("stream:down", () => {
      downAt ??= clock.now();
    });
    await submitAndTrack(clock, broker, tracker, req("far", { type: "limit", limitPrice: new Decimal(40) }));
    broker.disconnectStream(60_000);
    await clock.advance(100);
    if (downAt === undefined) throw new Error("the stream did not go down");
    const interval = ORDER_TRACKER_DEFAULTS.pollIntervalMs;
    await clock.advanceTo(downAt + interval - 1);
    expect(broker.calls.getOrder).toBe(0);
    await clock.advanceTo(downAt + interval);
    expect(broker.calls.getOrder).toBe(1);
  });
});

describe("OrderTracker timeout recovery", () => {
  it("answers unresolved with the last snapshot for an order stuck in pending_cancel, and a late fill still applies", async () => {
    const { clock, broker, tracker, log } = await setup(
      {},
      { cancelOnTimeout: true, maxStatusChecks: 3, backoff: { initialMs: 100 } },
    );
    broker.script({ kind: "stuck_pending_cancel" });
    const snap = await submitAndTrack(
      clock,
      broker,
      tracker,
      req("stuck", { type: "limit", limitPrice: new Decimal(40) }),
    );
    const final = await clock.run(tracker.waitForFinal("stuck", { timeoutMs: 5_000 }));
    expect(final.status).toBe("unresolved");
    expect(final.snapshot?.status).toBe("pending_cancel");
    expect(final.reason).toContain("cancel");
    expect(broker.calls.cancelOrder).toBe(1);
    expect(broker.calls.getOrder).toBe(6);
    broker.setPrice("TECL", 39);
    await clock.advance(1_000);
    expect(broker.findOrder(snap.id)?.status).toBe("filled");
    expect(tracker.getState("stuck")?.status).toBe("filled");
    expect(log.filter((l) => l.startsWith("final:stuck"))).toEqual([
      "final:stuck:unresolved",
      "final:stuck:filled",
    ]);
  });

  it("cancels on timeout and confirms the cancel", async () => {
    const { clock, broker, tracker } = await setup({}, { cancelOnTimeout: true, maxStatusChecks: 2 });
    await submitAndTrack(clock, broker, tracker, req("cot", { type: "limit", limitPrice: new Decimal(40) }));
    const final = await clock.run(tracker.waitForFinal("cot", { timeoutMs: 5_000 }));
    expect(final.status).toBe("canceled");
    expect(broker.calls.cancelOrder).toBe(1);
  });

  it("without cancelOnTimeout answers unresolved for a resting order after maxStatusChecks", async () => {
    const { clock, broker, tracker } = await setup({}, { maxStatusChecks: 5 });
    await submitAndTrack(clock, broker, tracker, req("rest", { type: "limit", limitPrice: new Decimal(40) }));
    const final = await clock.run(tracker.waitForFinal("rest", { timeoutMs: 5_000 }));
    expect(final.status).toBe("unresolved");
    expect(final.snapshot?.status).toBe("new");
    expect(broker.calls.getOrder).toBe(5);
    expect(broker.calls.cancelOrder).toBe(0);
  });

  it("reads through REST failures during timeout checks and still finds the fill", async () => {
    const { clock, broker, tracker } = await setup({}, { quietAfterMs: 600_000 });
    broker.script({ kind: "stream_silence", ms: 600_000 });
    await submitAndTrack(clock, broker, tracker, req("flaky"));
    broker.script({ kind: "unavailable", method: "getOrder", times: 2 });
    broker.script({ kind: "rate_limited", method: "getOrder", retryAfterMs: 3_000 });
    const errors: string[] = [];
    tracker.on("check:error", (e) => errors.push(isBrokerError(e.error) ? e.error.code : "other"));
    const final = await clock.run(tracker.waitForFinal("flaky", { timeoutMs: 5_000 }));
    expect(final.status).toBe("filled");
    expect(errors).toEqual(["unavailable", "unavailable", "rate_limited"]);
    expect(broker.calls.getOrder).toBe(4);
  });
});

describe("OrderTracker backoff between checks", () => {
  async function checkTimes(retryAfterMs: number): Promise<number[]> {
    const { clock, broker, tracker } = await setup(
      {},
      { quietAfterMs: 600_000, maxStatusChecks: 4, backoff: { initialMs: 1_000, factor: 2, maxMs: 8_000 } },
    );
    await submitAndTrack(clock, broker, tracker, req("slow", { type: "limit", limitPrice: new Decimal(40) }));
    broker.script({ kind: "rate_limited", method: "getOrder", retryAfterMs });
    await clock.run(tracker.waitForFinal("slow", { timeoutMs: 5_000 }));
    return broker
      .eventLog()
      .filter((e) => e.type === "call" && e.method === "getOrder")
      .map((e) => e.at);
  }

  it("waits initialMs × factor^n, or a rate limit's retryAfterMs when that is longer", async () => {
    // Each gap is the 10 ms read plus the wait; the first check fails rate limited, so the
    // second waits max(2 s backoff, retryAfterMs).
    const gaps = (times: number[]) => times.slice(1).map((t, i) => t - (times[i] ?? 0) - 10);
    expect(gaps(await checkTimes(3_000))).toEqual([3_000, 4_000, 8_000]);
    expect(gaps(await checkTimes(500))).toEqual([2_000, 4_000, 8_000]);
  });
});

describe("OrderTracker ambiguous submits", () => {
  it("settles an ambiguous submit that was placed by its client order id", async () => {
    const { clock, broker, tracker } = await setup();
    broker.script({ kind: "ambiguous", method: "submitOrder" });
    const err = await clock.run(broker.submitOrder(req("amb")).catch((e: unknown) => e));
    expect(isBrokerError(err, "ambiguous")).toBe(true);
    expect(tracker.track({ clientOrderId: "amb" }).status).toBe("submit_unconfirmed");
    const final = await clock.run(tracker.waitForFinal("amb", { timeoutMs: 30_000 }));
    expect(final.status).toBe("filled");
    expect(final.orderId).toBe(broker.findOrder("amb")?.id);
    expect(broker.calls.submitOrder).toBe(1);
  });

  it("declares submit_failed only after the tolerated not-found answers", async () => {
    const { clock, broker, tracker } = await setup({}, { notFoundTolerance: 3 });
    tracker.track({ clientOrderId: "never-arrived" });
    const final = await clock.run(tracker.waitForFinal("never-arrived", { timeoutMs: 60_000 }));
    expect(final.status).toBe("submit_failed");
    expect(broker.calls.getOrderByClientOrderId).toBe(4);
    expect(broker.calls.submitOrder).toBe(0);
  });

  it("tolerates not-found lag: an order invisible for a while is found, not failed", async () => {
    const { clock, broker, tracker } = await setup({}, { notFoundTolerance: 3 });
    broker.script({ kind: "not_found_lag", ms: 1_200 });
    broker.script({ kind: "ambiguous", method: "submitOrder" });
    broker.script({ kind: "stream_silence", ms: 600_000 });
    await clock.run(broker.submitOrder(req("lag")).catch(() => undefined));
    tracker.track({ clientOrderId: "lag" });
    const final = await clock.run(tracker.waitForFinal("lag", { timeoutMs: 60_000 }));
    expect(final.status).toBe("filled");
    expect(tracker.getState("lag")?.history.some((h) => h.to === "submit_failed")).toBe(false);
    expect(broker.calls.getOrderByClientOrderId).toBeGreaterThanOrEqual(2);
  });

  it("never reads a REST error as not found: failing lookups end unresolved, not submit_failed", async () => {
    const { clock, broker, tracker } = await setup({}, { notFoundTolerance: 1, maxStatusChecks: 4 });
    broker.script({ kind: "unavailable", method: "getOrderByClientOrderId", times: 10 });
    tracker.track({ clientOrderId: "unknown" });
    const final = await clock.run(tracker.waitForFinal("unknown", { timeoutMs: 60_000 }));
    expect(final.status).toBe("unresolved");
    expect(broker.calls.getOrderByClientOrderId).toBe(4);
  });

  it("settles through REST errors when the order exists", async () => {
    const { clock, broker, tracker } = await setup({}, { notFoundTolerance: 0 });
    broker.script({ kind: "ambiguous", method: "submitOrder" });
    await clock.run(broker.submitOrder(req("err")).catch(() => undefined));
    broker.script({ kind: "unavailable", method: "getOrderByClientOrderId", times: 2 });
    tracker.track({ clientOrderId: "err" });
    const final = await clock.run(tracker.waitForFinal("err", { timeoutMs: 60_000 }));
    expect(final.status).toBe("filled");
  });
});

describe("OrderTracker API", () => {
  it("validates options and ids", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({ clock });
    expect(() => new OrderTracker({ broker, clock, bogus: 1 } as unknown as OrderTrackerOptions)).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => new OrderTracker({ broker, clock, maxStatusChecks: 0 })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    const tracker = new OrderTracker({ broker, clock });
    trackers.push(tracker);
    await expect(tracker.waitForFinal("nope")).rejects.toMatchObject({ code: "invalid_state" });
    await expect(tracker.waitForFinal("")).rejects.toMatchObject({ code: "validation" });
    expect(() => tracker.track({ clientOrderId: "" })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
  });

  it("answers a final order at once, by broker id or client id, and replays updates that came before track", async () => {
    const { clock, broker, tracker } = await setup();
    const snap = await clock.run(broker.submitOrder(req("early")));
    await clock.advance(1_000);
    expect(broker.findOrder(snap.id)?.status).toBe("filled");
    tracker.track(snap);
    const a: FinalOrderState = await tracker.waitForFinal(snap.id);
    const b = await tracker.waitForFinal("early");
    expect(a.status).toBe("filled");
    expect(b).toEqual(a);
    expect(restReads(broker)).toBe(0);
  });

  it("rejects on abort and keeps tracking", async () => {
    const { clock, broker, tracker } = await setup();
    await submitAndTrack(clock, broker, tracker, req("ab", { type: "limit", limitPrice: new Decimal(40) }));
    const controller = new AbortController();
    const p = tracker.waitForFinal("ab", { signal: controller.signal });
    controller.abort(new Error("stop"));
    await expect(p).rejects.toThrow("stop");
    expect(tracker.getState("ab")?.status).toBe("new");
  });

  it("close() stops every timer, call and waiter", async () => {
    const { clock, broker, tracker } = await setup({}, { quietAfterMs: 1_000 });
    broker.disconnectStream(60_000);
    await submitAndTrack(clock, broker, tracker, req("cl", { type: "limit", limitPrice: new Decimal(40) }));
    const p = tracker.waitForFinal("cl", { timeoutMs: 5_000 });
    const healthy = tracker.waitForHealthyStream({ timeoutMs: 90_000 });
    await clock.advance(3_000);
    tracker.close();
    await expect(p).rejects.toMatchObject({ code: "invalid_state" });
    await expect(healthy).rejects.toMatchObject({ code: "invalid_state" });
    broker.resetCalls();
    await clock.advance(120_000);
    expect(broker.totalCalls()).toBe(0);
    // The broker's own timers have run out by now; the tracker left none behind.
    expect(clock.pendingTimers).toBe(0);
    expect(() => tracker.track({ clientOrderId: "x" })).toThrow(
      expect.objectContaining({ code: "invalid_state" }),
    );
  });

  it("forgets the oldest final orders beyond rememberFinished", async () => {
    const { clock, broker, tracker } = await setup({}, { rememberFinished: 2 });
    for (const id of ["r1", "r2", "r3"]) await submitAndTrack(clock, broker, tracker, req(id));
    await clock.advance(2_000);
    expect(tracker.getState("r1")).toBeUndefined();
    expect(tracker.getState("r3")?.status).toBe("filled");
    expect(tracker.stats().tracked).toBe(2);
  });
});

describe("OrderTracker with a port that has no update stream", () => {
  it("polls open orders and counts as healthy", async () => {
    const clock = new VirtualClock();
    const sim = createSimulatedBroker({ clock, prices: { TECL: 50 }, latency: { restMs: 10, fillMs: 200 } });
    const broker = new Proxy(sim, {
      get(target, prop, receiver) {
        if (prop === "capabilities") return { ...target.capabilities, orderUpdates: false };
        if (prop === "subscribeOrderUpdates") {
          return () => {
            throw new Error("no stream");
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const tracker = new OrderTracker({ broker, clock, pollIntervalMs: 1_000 });
    trackers.push(tracker);
    expect(tracker.isStreamHealthy()).toBe(true);
    tracker.track(await clock.run(sim.submitOrder(req("poll"))));
    const final = await clock.run(tracker.waitForFinal("poll", { timeoutMs: 30_000 }));
    expect(final.status).toBe("filled");
    expect(sim.calls.getOrder).toBe(1);
  });
});

describe("OrderTracker.cancel", () => {
  it("cancels a resting order and confirms it from the stream", async () => {
    const { clock, broker, tracker } = await setup();
    await submitAndTrack(clock, broker, tracker, req("cx", { type: "limit", limitPrice: new Decimal(40) }));
    const final = await clock.run(tracker.cancel("cx", { timeoutMs: 10_000 }));
    expect(final.status).toBe("canceled");
    expect(tracker.getState("cx")?.cancelRequested).toBe(true);
    expect(broker.calls.cancelOrder).toBe(1);
    expect(broker.calls.getOrder).toBe(0);
  });

  it("reads back an order that filled before the cancel, while the stream is silent", async () => {
    const { clock, broker, tracker } = await setup({}, { quietAfterMs: 600_000 });
    broker.script({ kind: "stream_silence", ms: 600_000 });
    const snap = await submitAndTrack(clock, broker, tracker, req("cf"));
    await clock.advance(1_000);
    expect(broker.findOrder(snap.id)?.status).toBe("filled");
    expect(tracker.getState("cf")?.status).toBe("new");
    const final = await clock.run(tracker.cancel(snap.id, { timeoutMs: 10_000 }));
    expect(final.status).toBe("filled");
    expect(broker.calls.cancelOrder).toBe(1);
    expect(broker.calls.getOrder).toBe(1);
  });
});
