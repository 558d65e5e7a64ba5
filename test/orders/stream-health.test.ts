import { describe, expect, it } from "vitest";
import {
  createStreamHealth,
  type StreamHealthEffect,
  type StreamHealthEvent,
  type StreamHealthState,
  transitionStreamHealth,
} from "../../src/orders/stream-health.js";

const SILENCE = 5_000;

/** Applies events in order; returns the last state and each event's effects. */
function run(
  events: readonly StreamHealthEvent[],
  start: StreamHealthState = createStreamHealth({ streamless: false, silenceMs: SILENCE }),
): { state: StreamHealthState; effects: StreamHealthEffect[][] } {
  let state = start;
  const effects: StreamHealthEffect[][] = [];
  for (const e of events) {
    const r = transitionStreamHealth(state, e);
    state = r.state;
    effects.push([...r.effects]);
  }
  return { state, effects };
}

const open = true;
const none = false;
const connected = (hasOpenOrders = none): StreamHealthEvent => ({
  type: "status",
  status: "connected",
  hasOpenOrders,
});
const dropped = (hasOpenOrders = open): StreamHealthEvent => ({
  type: "status",
  status: "disconnected",
  hasOpenOrders,
});
const finished = (generation: number, hasOpenOrders = open): StreamHealthEvent => ({
  type: "resync_finished",
  generation,
  openOrders: [],
  hasOpenOrders,
});

/** Connected once with no order open, then one order tracked: healthy, generation 0. */
function healthyWithAnOrder(): StreamHealthState {
  return run([connected(), { type: "orders_changed", hasOpenOrders: open }]).state;
}

describe("stream health: connecting", () => {
  it("starts unhealthy (a streamless port healthy) without announcing anything", () => {
    expect(createStreamHealth({ streamless: false, silenceMs: SILENCE }).healthy).toBe(false);
    expect(createStreamHealth({ streamless: true, silenceMs: SILENCE }).healthy).toBe(true);
  });

  it("the first connection with no order open is healthy at once", () => {
    const { state, effects } = run([connected()]);
    expect(state.healthy).toBe(true);
    expect(effects).toEqual([[{ type: "stream_up", openOrders: [] }, { type: "notify_health_waiters" }]]);
  });

  it("the first connection with orders open is healthy only after the re-read", () => {
    const { state, effects } = run([connected(open), finished(1)]);
    expect(effects[0]).toEqual([{ type: "start_polling" }, { type: "start_resync", generation: 1 }]);
    expect(effects[1]).toEqual([
      { type: "stop_polling" },
      { type: "stream_up", openOrders: [] },
      { type: "notify_health_waiters" },
    ]);
    expect(state.healthy).toBe(true);
    expect(state.downs).toBe(0);
  });

  it("a second connected status changes nothing", () => {
    const s = healthyWithAnOrder();
    expect(transitionStreamHealth(s, connected(open))).toEqual({ state: s, effects: [] });
  });

  it("stream:up carries the open orders the re-read found", () => {
    const orders = Object.freeze([]);
    const s = run([dropped(), connected(open)], healthyWithAnOrder()).state;
    const r = transitionStreamHealth(s, {
      type: "resync_finished",
      generation: 2,
      openOrders: orders,
      hasOpenOrders: open,
    });
    const up = r.effects.find((e) => e.type === "stream_up");
    expect(up?.type === "stream_up" && up.openOrders).toBe(orders);
  });
});

describe("stream health: drops and reconnects", () => {
  it("a drop is down at once, polling while orders are open", () => {
    const { state, effects } = run([dropped()], healthyWithAnOrder());
    expect(effects[0]).toEqual([{ type: "start_polling" }, { type: "stream_down", reason: "disconnected" }]);
    expect(state).toMatchObject({ healthy: false, connected: false, polling: true, downs: 1, generation: 1 });
  });

  it("names the status that took it down", () => {
    const s = healthyWithAnOrder();
    for (const status of ["reconnecting", "connecting", "disconnected"] as const) {
      const r = transitionStreamHealth(s, { type: "status", status, hasOpenOrders: none });
      expect(r.effects).toEqual([{ type: "stream_down", reason: status }]);
    }
  });

  it("a reconnect is re-read before it counts, even with no order open", () => {
    const s = run([dropped(none)], healthyWithAnOrder()).state;
    const { state, effects } = run([connected(none), finished(2, none)], s);
    expect(effects[0]).toEqual([{ type: "start_resync", generation: 2 }]);
    expect(state.healthy).toBe(true);
  });

  it("a re-read that a drop overtook is ignored when it ends", () => {
    const s = run([dropped(), connected(open)], healthyWithAnOrder()).state;
    expect(s.generation).toBe(2);
    const { state, effects } = run([dropped(), finished(2)], s);
    expect(effects[1]).toEqual([]);
    expect(state.healthy).toBe(false);
    expect(run([connected(open), finished(2)], state).state.healthy).toBe(false);
  });

  it("a failed re-read stays down and is retried for the same generation only", () => {
    const s = run([dropped(), connected(open)], healthyWithAnOrder()).state;
    const failed = transitionStreamHealth(s, { type: "resync_failed", generation: 2, hasOpenOrders: open });
    expect(failed).toEqual({ state: s, effects: [{ type: "schedule_resync_retry", generation: 2 }] });
    const retry = transitionStreamHealth(s, { type: "resync_retry", generation: 2, hasOpenOrders: open });
    expect(retry.effects).toEqual([{ type: "start_resync", generation: 3 }]);
    const late = transitionStreamHealth(retry.state, {
      type: "resync_retry",
      generation: 2,
      hasOpenOrders: open,
    });
    expect(late.effects).toEqual([]);
    const whileDown = run([dropped(), { type: "resync_retry", generation: 3, hasOpenOrders: open }], s);
    expect(whileDown.effects[1]).toEqual([]);
  });

  it("an update proves a connection the port never reported", () => {
    const { state, effects } = run([{ type: "update", at: 1_000, hasOpenOrders: none }]);
    expect(state).toMatchObject({ connected: true, healthy: true, lastStreamAt: 1_000 });
    expect(effects[0]).toEqual([{ type: "stream_up", openOrders: [] }, { type: "notify_health_waiters" }]);
  });
});

describe("stream health: silence", () => {
  const T = 1_000_000;

  it("a change the connected stream left undelivered for silenceMs marks it silent", () => {
    const s = run([{ type: "update", at: T - 10_000, hasOpenOrders: open }], healthyWithAnOrder()).state;
    const r = transitionStreamHealth(s, {
      type: "missed_change",
      changedAt: T - SILENCE,
      at: T,
      hasOpenOrders: open,
    });
    expect(r.effects).toEqual([{ type: "start_polling" }, { type: "stream_down", reason: "silent" }]);
    expect(r.state).toMatchObject({ silent: true, healthy: false });
  });

  it("a recent change, or one the stream delivered after it happened, is not silence", () => {
    const s = run([{ type: "update", at: T - 1_000, hasOpenOrders: open }], healthyWithAnOrder()).state;
    const recent = { type: "missed_change", changedAt: T - SILENCE + 1, at: T, hasOpenOrders: open } as const;
    expect(transitionStreamHealth(s, recent).state).toBe(s);
    const heard = {
      type: "missed_change",
      changedAt: T - 2_000,
      at: T + SILENCE,
      hasOpenOrders: open,
    } as const;
    expect(transitionStreamHealth(s, heard).state).toBe(s);
  });

  it("a silent stream with no order open counts as healthy, and goes down again when one is tracked", () => {
    const s = run(
      [{ type: "missed_change", changedAt: 0, at: T, hasOpenOrders: none }],
      healthyWithAnOrder(),
    ).state;
    expect(s).toMatchObject({ silent: true, healthy: true });
    const r = transitionStreamHealth(s, { type: "orders_changed", hasOpenOrders: open });
    expect(r.effects).toEqual([{ type: "start_polling" }, { type: "stream_down", reason: "silent" }]);
  });

  it("the next update ends the silence through a re-read", () => {
    const s = run(
      [{ type: "missed_change", changedAt: 0, at: T, hasOpenOrders: open }],
      healthyWithAnOrder(),
    ).state;
    const { state, effects } = run([{ type: "update", at: T + 1, hasOpenOrders: open }, finished(1)], s);
    expect(effects[0]).toEqual([{ type: "start_resync", generation: 1 }]);
    expect(effects[1]).toEqual([
      { type: "stop_polling" },
      { type: "stream_up", openOrders: [] },
      { type: "notify_health_waiters" },
    ]);
    expect(state).toMatchObject({ silent: false, healthy: true, downs: 1 });
  });

  it("a streamless port, a disconnected or re-reading stream is never marked silent", () => {
    const missed = { type: "missed_change", changedAt: 0, at: T, hasOpenOrders: open } as const;
    const streamless = createStreamHealth({ streamless: true, silenceMs: SILENCE });
    expect(transitionStreamHealth(streamless, missed).state).toBe(streamless);
    const down = run([dropped()], healthyWithAnOrder()).state;
    expect(transitionStreamHealth(down, missed).state).toBe(down);
    const rereading = run([connected(open)], down).state;
    expect(transitionStreamHealth(rereading, missed).state).toBe(rereading);
  });
});

describe("stream health: polling and closing", () => {
  it("a poll round: the timer fires (poll), and at its end the next one is set while still down", () => {
    const s = run([dropped()], healthyWithAnOrder()).state;
    const due = transitionStreamHealth(s, { type: "poll_due", hasOpenOrders: open });
    expect(due.effects).toEqual([{ type: "poll" }]);
    expect(due.state.polling).toBe(false);
    const done = transitionStreamHealth(due.state, { type: "poll_done", hasOpenOrders: open });
    expect(done.effects).toEqual([{ type: "start_polling" }]);
    const idle = transitionStreamHealth(due.state, { type: "poll_done", hasOpenOrders: none });
    expect(idle.effects).toEqual([]);
  });

  it("a streamless port polls whenever orders are open", () => {
    const s = createStreamHealth({ streamless: true, silenceMs: SILENCE });
    const { state, effects } = run(
      [
        { type: "orders_changed", hasOpenOrders: open },
        { type: "orders_changed", hasOpenOrders: none },
      ],
      s,
    );
    expect(effects).toEqual([[{ type: "start_polling" }], [{ type: "stop_polling" }]]);
    expect(state.healthy).toBe(true);
  });

  it("close stops polling; afterwards the stream's news, re-reads and timers change nothing", () => {
    const s = run([dropped(), connected(open)], healthyWithAnOrder()).state;
    const closed = transitionStreamHealth(s, { type: "close", hasOpenOrders: open });
    expect(closed.effects).toEqual([{ type: "stop_polling" }]);
    const after = run(
      [
        finished(2),
        { type: "resync_failed", generation: 2, hasOpenOrders: open },
        { type: "resync_retry", generation: 2, hasOpenOrders: open },
        dropped(),
        connected(open),
        { type: "update", at: 1, hasOpenOrders: open },
        { type: "poll_due", hasOpenOrders: open },
        { type: "poll_done", hasOpenOrders: open },
        { type: "close", hasOpenOrders: open },
      ],
      closed.state,
    );
    expect(after.effects.flat()).toEqual([]);
    expect(after.state).toBe(closed.state);
  });

  it("is pure: states are frozen and an event gives the same result every time", () => {
    const s = healthyWithAnOrder();
    expect(Object.isFrozen(s)).toBe(true);
    const a = transitionStreamHealth(s, dropped());
    const b = transitionStreamHealth(s, dropped());
    expect(a).toEqual(b);
    expect(s.healthy).toBe(true);
  });
});
