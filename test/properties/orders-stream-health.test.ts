// Properties of the stream-health machine over random but possible event sequences: a driver
// plays the tracker and the broker (a poll fires only while one is scheduled, a re-read ends
// only once started, a retry only once scheduled), and the machine's state and effects are
// checked after every event, and against the health logic the tracker had inline before the
// machine existed (transcribed below as a reference model).

import fc from "fast-check";
import type { OrderSnapshot, StreamStatus } from "ordersafe";
import { describe, expect, it } from "vitest";
import {
  createStreamHealth,
  impliedHealth,
  type StreamDownReason,
  type StreamHealthEffect,
  type StreamHealthEvent,
  transitionStreamHealth,
} from "../../src/orders/stream-health.js";

const SILENCE = 5_000;

type Step =
  | { kind: "status"; status: StreamStatus }
  | { kind: "update"; dt: number }
  | { kind: "missed"; age: number; dt: number }
  | { kind: "resync_end"; pick: number; ok: boolean }
  | { kind: "retry"; pick: number }
  | { kind: "orders"; open: boolean }
  | { kind: "poll_due" }
  | { kind: "poll_done" }
  | { kind: "close" };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("status" as const),
      status: fc.constantFrom<StreamStatus>(
        "connected",
        "connected",
        "disconnected",
        "reconnecting",
        "connecting",
      ),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("update" as const), dt: fc.integer({ min: 0, max: 3_000 }) }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("missed" as const),
      age: fc.oneof(fc.constantFrom(SILENCE - 1, SILENCE), fc.integer({ min: 0, max: 12_000 })),
      dt: fc.integer({ min: 0, max: 3_000 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("resync_end" as const), pick: fc.nat(), ok: fc.boolean() }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant("retry" as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("orders" as const), open: fc.boolean() }), weight: 3 },
  { arbitrary: fc.constant({ kind: "poll_due" as const }), weight: 2 },
  { arbitrary: fc.constant({ kind: "poll_done" as const }), weight: 2 },
  { arbitrary: fc.constant({ kind: "close" as const }), weight: 1 },
);

const scenarioArb = fc.record({
  streamless: fc.boolean(),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 60 }),
});

/** The world around the machine: what is pending, which orders are open, the time. */
class Driver {
  now = 1_000_000;
  open = false;
  pollTimer = false;
  pollRunning = false;
  readonly resyncs: number[] = [];
  readonly retries: number[] = [];

  /** The event a step means now, or undefined when it cannot happen now. */
  event(step: Step): StreamHealthEvent | undefined {
    const hasOpenOrders = this.open;
    switch (step.kind) {
      case "status":
        return { type: "status", status: step.status, hasOpenOrders };
      case "update":
        this.now += step.dt;
        return { type: "update", at: this.now, hasOpenOrders };
      case "missed":
        this.now += step.dt;
        return { type: "missed_change", changedAt: this.now - step.age, at: this.now, hasOpenOrders };
      case "resync_end": {
        if (this.resyncs.length === 0) return undefined;
        const [generation] = this.resyncs.splice(step.pick % this.resyncs.length, 1);
        if (generation === undefined) return undefined;
        return step.ok
          ? { type: "resync_finished", generation, openOrders: [], hasOpenOrders }
          : { type: "resync_failed", generation, hasOpenOrders };
      }
      case "retry": {
        if (this.retries.length === 0) return undefined;
        const [generation] = this.retries.splice(step.pick % this.retries.length, 1);
        if (generation === undefined) return undefined;
        return { type: "resync_retry", generation, hasOpenOrders };
      }
      case "orders":
        // Whether orders are open changes only with an order tracked or finished.
        this.open = step.open;
        return { type: "orders_changed", hasOpenOrders: step.open };
      case "poll_due":
        if (!this.pollTimer) return undefined;
        this.pollTimer = false;
        return { type: "poll_due", hasOpenOrders };
      case "poll_done":
        if (!this.pollRunning) return undefined;
        this.pollRunning = false;
        return { type: "poll_done", hasOpenOrders };
      case "close":
        return { type: "close", hasOpenOrders };
    }
  }

  /** Runs the effects as the tracker would (timers, reads); fails on an impossible one. */
  run(effects: readonly StreamHealthEffect[]): void {
    for (const e of effects) {
      if (e.type === "start_polling") {
        expect(this.pollTimer).toBe(false);
        this.pollTimer = true;
      } else if (e.type === "stop_polling") {
        expect(this.pollTimer).toBe(true);
        this.pollTimer = false;
      } else if (e.type === "poll") this.pollRunning = true;
      else if (e.type === "start_resync") this.resyncs.push(e.generation);
      else if (e.type === "schedule_resync_retry") this.retries.push(e.generation);
    }
  }
}

describe("stream health properties", () => {
  it("healthy iff the state implies it; polling only when unhealthy with orders open; timers match the state", () => {
    fc.assert(
      fc.property(scenarioArb, ({ streamless, steps }) => {
        const d = new Driver();
        let s = createStreamHealth({ streamless, silenceMs: SILENCE });
        let ups = 0;
        let downs = 0;
        let lastNotice: "up" | "down" | undefined;
        for (const step of steps) {
          const event = d.event(step);
          if (event === undefined) continue;
          const { state, effects } = transitionStreamHealth(s, event);
          d.run(effects);
          for (const [i, e] of effects.entries()) {
            if (e.type === "stream_up") {
              expect(lastNotice).not.toBe("up");
              expect(effects[i + 1]?.type).toBe("notify_health_waiters");
              lastNotice = "up";
              ups++;
            } else if (e.type === "stream_down") {
              expect(lastNotice).not.toBe("down");
              lastNotice = "down";
              downs++;
            }
          }
          s = state;
          expect(s.healthy).toBe(impliedHealth(s, d.open));
          if (!streamless) expect(s.healthy).toBe(s.connected && !s.resyncing && !(s.silent && d.open));
          else expect(s.healthy).toBe(true);
          expect(d.pollTimer).toBe(s.polling);
          if (s.polling) expect(!s.closed && (streamless || !s.healthy) && d.open).toBe(true);
          if (s.closed) {
            expect(effects.some((e) => ["start_polling", "poll", "start_resync"].includes(e.type))).toBe(
              false,
            );
          }
          expect(s.downs).toBe(downs);
        }
        expect(ups).toBeLessThanOrEqual(downs + 1);
      }),
      { numRuns: 400 },
    );
  });

  it("after a drop, every way back to healthy goes through a re-read of the current generation", () => {
    fc.assert(
      fc.property(scenarioArb, ({ steps }) => {
        const d = new Driver();
        let s = createStreamHealth({ streamless: false, silenceMs: SILENCE });
        let dropped = false;
        for (const step of steps) {
          const event = d.event(step);
          if (event === undefined) continue;
          const { state, effects } = transitionStreamHealth(s, event);
          d.run(effects);
          if (event.type === "status" && event.status !== "connected" && s.everConnected && !s.closed) {
            dropped = true;
          }
          if (dropped && !s.healthy && state.healthy) {
            // Only a silence with no order left open clears without a re-read: the stream
            // itself never dropped since the last one.
            const silenceOnly = s.connected && !s.resyncing && s.silent;
            if (!silenceOnly) {
              expect(event.type).toBe("resync_finished");
              if (event.type === "resync_finished") expect(event.generation).toBe(s.generation);
              dropped = false;
            }
          }
          s = state;
        }
      }),
      { numRuns: 400 },
    );
  });

  it("does what the tracker's inline health logic did, event for event", () => {
    fc.assert(
      fc.property(scenarioArb, ({ streamless, steps }) => {
        const d = new Driver();
        const legacy = new LegacyHealth(streamless);
        let s = createStreamHealth({ streamless, silenceMs: SILENCE });
        for (const step of steps) {
          const event = d.event(step);
          if (event === undefined) continue;
          const { state, effects } = transitionStreamHealth(s, event);
          d.run(effects);
          s = state;
          const expected = legacy.handle(event);
          expect(canonical(effects)).toEqual(canonical(expected));
          expect(s.healthy).toBe(legacy.healthy);
          expect(s.downs).toBe(legacy.streamDowns);
          expect(s.polling).toBe(legacy.pollScheduled);
        }
      }),
      { numRuns: 600 },
    );
  });
});

/**
 * Effects in one order for comparison: the machine sets or clears the poll timer before it
 * notifies (so a throwing listener cannot leave them out of step); the inline code did it after.
 */
function canonical(effects: readonly StreamHealthEffect[]): StreamHealthEffect[] {
  const rank = (e: StreamHealthEffect) =>
    e.type === "start_polling" || e.type === "stop_polling"
      ? 0
      : e.type === "stream_up" || e.type === "stream_down" || e.type === "notify_health_waiters"
        ? 1
        : 2;
  return [...effects].sort((a, b) => rank(a) - rank(b));
}

/**
 * The stream-health logic as `OrderTracker` had it inline (its fields, `onStreamUpdate`,
 * `onStreamStatus`, `startResync`, the end of `resync`, `refreshHealth`, `computeHealthy`,
 * `refreshPolling`, the poll timer, `noticeMissed` and `close`), recording what it did.
 */
class LegacyHealth {
  connected = false;
  everConnected = false;
  silent = false;
  resyncing = false;
  resyncGeneration = 0;
  healthy: boolean;
  lastStreamAt: number | undefined;
  pollScheduled = false;
  closed = false;
  streamDowns = 0;
  lastOpenOrders: readonly OrderSnapshot[] = [];
  private open = false;
  private out: StreamHealthEffect[] = [];

  constructor(private readonly streamless: boolean) {
    this.healthy = streamless;
  }

  handle(event: StreamHealthEvent): StreamHealthEffect[] {
    this.out = [];
    this.open = event.hasOpenOrders;
    switch (event.type) {
      case "status":
        this.onStreamStatus(event.status);
        break;
      case "update":
        this.onStreamUpdate(event.at);
        break;
      case "missed_change":
        // check() returns before noticeMissed once closed.
        if (!this.closed) this.noticeMissed(event.changedAt, event.at);
        break;
      case "resync_finished":
      case "resync_failed":
        if (this.closed || event.generation !== this.resyncGeneration) break;
        if (event.type === "resync_failed") {
          this.out.push({ type: "schedule_resync_retry", generation: event.generation });
          break;
        }
        this.lastOpenOrders = event.openOrders;
        this.resyncing = false;
        this.refreshHealth();
        break;
      case "resync_retry":
        // A timer of the closed tracker never fires.
        if (this.closed) break;
        if (event.generation === this.resyncGeneration && this.connected) this.startResync();
        break;
      case "orders_changed":
        this.refreshHealth();
        break;
      case "poll_due":
        if (this.closed) break;
        this.pollScheduled = false;
        this.out.push({ type: "poll" });
        break;
      case "poll_done":
        this.refreshPolling();
        break;
      case "close":
        if (this.closed) break;
        this.closed = true;
        if (this.pollScheduled) this.out.push({ type: "stop_polling" });
        this.pollScheduled = false;
        break;
    }
    return this.out;
  }

  private onStreamUpdate(at: number): void {
    if (this.closed) return;
    this.lastStreamAt = at;
    if (!this.connected) {
      this.onStreamStatus("connected");
    } else if (this.silent) {
      this.silent = false;
      this.startResync();
    }
  }

  private onStreamStatus(status: StreamStatus): void {
    if (this.closed) return;
    if (status === "connected") {
      if (this.connected) return;
      this.connected = true;
      this.silent = false;
      const reconnect = this.everConnected;
      this.everConnected = true;
      if (reconnect || this.open) this.startResync();
      else this.refreshHealth();
      return;
    }
    this.connected = false;
    this.resyncGeneration++;
    this.resyncing = false;
    this.refreshHealth(status);
  }

  private startResync(): void {
    const generation = ++this.resyncGeneration;
    this.resyncing = true;
    this.refreshHealth("resyncing");
    this.out.push({ type: "start_resync", generation });
  }

  private refreshHealth(reason?: StreamDownReason): void {
    const healthy = this.computeHealthy();
    if (healthy === this.healthy) {
      this.refreshPolling();
      return;
    }
    this.healthy = healthy;
    if (healthy) {
      this.out.push({ type: "stream_up", openOrders: this.lastOpenOrders });
      this.out.push({ type: "notify_health_waiters" });
    } else {
      this.streamDowns++;
      const why: StreamDownReason =
        reason ?? (this.silent ? "silent" : this.resyncing ? "resyncing" : "disconnected");
      this.out.push({ type: "stream_down", reason: why });
    }
    this.refreshPolling();
  }

  private computeHealthy(): boolean {
    if (this.streamless) return true;
    if (!this.connected || this.resyncing) return false;
    return !(this.silent && this.open);
  }

  private refreshPolling(): void {
    const shouldPoll = !this.closed && (this.streamless || !this.healthy) && this.open;
    if (shouldPoll && !this.pollScheduled) {
      this.pollScheduled = true;
      this.out.push({ type: "start_polling" });
    } else if (!shouldPoll && this.pollScheduled) {
      this.pollScheduled = false;
      this.out.push({ type: "stop_polling" });
    }
  }

  private noticeMissed(changedAt: number, at: number): void {
    if (this.streamless || !this.connected || this.resyncing || this.silent) return;
    const heard = this.lastStreamAt !== undefined && this.lastStreamAt >= changedAt;
    if (at - changedAt < SILENCE || heard) return;
    this.silent = true;
    this.refreshHealth("silent");
  }
}
