import type { OrderSnapshot, StreamStatus } from "../broker/broker-port.js";

/** Why the stream is not healthy. */
export type StreamDownReason = Exclude<StreamStatus, "connected"> | "silent" | "resyncing";

/**
 * What the tracker knows about its order update stream: an immutable record, replaced (never
 * mutated) by {@link transitionStreamHealth}.
 *
 * @remarks Healthy means the updates can be trusted: the stream is connected, the orders
 * were re-read after the last (re)connection, and no REST read found a change the stream
 * left undelivered while orders are open. A port without a stream is always healthy (and
 * polled).
 */
export interface StreamHealthState {
  /** The port has no stream: always healthy, open orders are polled. */
  readonly streamless: boolean;
  /** How old (ms) a change found by REST must be, undelivered, to mark the stream silent. */
  readonly silenceMs: number;
  /** The port reported `connected` (or delivered an update) since the last drop. */
  readonly connected: boolean;
  /** It was connected at least once: every later connection is a reconnect. */
  readonly everConnected: boolean;
  /** A REST read found a change the connected stream never delivered. */
  readonly silent: boolean;
  /** Open orders are being re-read after a (re)connection or a silence. */
  readonly resyncing: boolean;
  /** Counts re-reads and drops: a re-read finishing under an older generation is stale. */
  readonly generation: number;
  /** What `isStreamHealthy()` answers. */
  readonly healthy: boolean;
  /** When the stream last delivered an update (ms), if ever. */
  readonly lastStreamAt: number | undefined;
  /** A poll of the open orders is scheduled. */
  readonly polling: boolean;
  /** The tracker was closed: no polling, stream news and re-reads are ignored. */
  readonly closed: boolean;
  /** How many times the stream went down. */
  readonly downs: number;
  /** The broker's open orders as the last successful re-read found them (for `stream:up`). */
  readonly openOrders: readonly OrderSnapshot[];
}

/**
 * What can happen to the stream, as the tracker sees it. `at` and `changedAt` are ms since
 * the epoch (the tracker's clock; `changedAt` is the broker's `updatedAt`).
 * - `status`: the port reported a connection status.
 * - `update`: the stream delivered an order update.
 * - `missed_change`: a REST read found a change of an order (status or fill) made at `changedAt`.
 * - `resync_finished` / `resync_failed`: the re-read of one generation ended, with the
 *   broker's open orders, or with a failed read.
 * - `resync_retry`: the wait after a failed re-read is over.
 * - `orders_changed`: an order was tracked or became final.
 * - `poll_due` / `poll_done`: the poll timer fired / a poll round ended.
 * - `close`: the tracker closed.
 */
export type StreamHealthFact =
  | { readonly type: "status"; readonly status: StreamStatus }
  | { readonly type: "update"; readonly at: number }
  | { readonly type: "missed_change"; readonly changedAt: number; readonly at: number }
  | {
      readonly type: "resync_finished";
      readonly generation: number;
      readonly openOrders: readonly OrderSnapshot[];
    }
  | { readonly type: "resync_failed"; readonly generation: number }
  | { readonly type: "resync_retry"; readonly generation: number }
  | { readonly type: "orders_changed" }
  | { readonly type: "poll_due" }
  | { readonly type: "poll_done" }
  | { readonly type: "close" };

/**
 * An event of the stream-health machine: a {@link StreamHealthFact}, and whether any tracked
 * order is open at that moment (silence only matters, and polling only runs, while one is).
 */
export type StreamHealthEvent = StreamHealthFact & { readonly hasOpenOrders: boolean };

/**
 * What a transition asks the tracker to do; data, run by the tracker in order.
 * - `start_polling` / `stop_polling`: set / clear the poll timer (`pollIntervalMs`).
 * - `poll`: read every open order not being settled or recovered now.
 * - `stream_down` / `stream_up`: log and emit the tracker's event.
 * - `notify_health_waiters`: resolve the pending `waitForHealthyStream` calls.
 * - `start_resync`: re-read the open orders and every tracked open order, then report
 *   `resync_finished` or `resync_failed` for this generation.
 * - `schedule_resync_retry`: report `resync_retry` for this generation after `pollIntervalMs`.
 */
export type StreamHealthEffect =
  | { readonly type: "start_polling" }
  | { readonly type: "stop_polling" }
  | { readonly type: "poll" }
  | { readonly type: "stream_down"; readonly reason: StreamDownReason }
  | { readonly type: "stream_up"; readonly openOrders: readonly OrderSnapshot[] }
  | { readonly type: "notify_health_waiters" }
  | { readonly type: "start_resync"; readonly generation: number }
  | { readonly type: "schedule_resync_retry"; readonly generation: number };

/** The result of {@link transitionStreamHealth}. */
export interface StreamHealthTransition {
  /** The next state (the same object when nothing changed). */
  readonly state: StreamHealthState;
  /** What to do, in order. */
  readonly effects: readonly StreamHealthEffect[];
}

/**
 * The state before anything happened: not connected (so not healthy), unless the port has no
 * stream.
 *
 * @param options - whether the port is streamless, and the silence threshold
 * @returns the initial state
 * @example
 * ```ts
 * let health = createStreamHealth({ streamless: false, silenceMs: 5_000 });
 * ```
 */
export function createStreamHealth(options: { streamless: boolean; silenceMs: number }): StreamHealthState {
  return Object.freeze({
    streamless: options.streamless,
    silenceMs: options.silenceMs,
    connected: false,
    everConnected: false,
    silent: false,
    resyncing: false,
    generation: 0,
    healthy: options.streamless,
    lastStreamAt: undefined,
    polling: false,
    closed: false,
    downs: 0,
    openOrders: [],
  });
}

/**
 * Whether a state with these open orders is healthy: a streamless port always; otherwise
 * connected, not re-reading, and not silent while orders are open.
 *
 * @param state - a state
 * @param hasOpenOrders - whether any tracked order is open
 * @returns the health the state implies
 */
export function impliedHealth(state: StreamHealthState, hasOpenOrders: boolean): boolean {
  if (state.streamless) return true;
  if (!state.connected || state.resyncing) return false;
  return !(state.silent && hasOpenOrders);
}

const UNCHANGED = (state: StreamHealthState): StreamHealthTransition => ({ state, effects: [] });

/**
 * The stream-health machine: applies one event to a state.
 *
 * @param state - the current state (from {@link createStreamHealth} or an earlier transition)
 * @param event - what happened, with whether orders are open now
 * @returns the next state and the effects to run, in order
 * @example
 * ```ts
 * const { state, effects } = transitionStreamHealth(health, { type: "status", status: "disconnected", hasOpenOrders: true });
 * // effects: start_polling, stream_down (disconnected)
 * ```
 * @remarks
 * - Health is recomputed ({@link impliedHealth}) on every event that can change it; a change
 *   emits `stream_down` (counted in `downs`) or `stream_up` and `notify_health_waiters`.
 * - Polling runs while orders are open and the stream is unhealthy (always on a streamless
 *   port), never after `close`. Its start or stop comes first among the effects, so the
 *   timer matches the state even when a listener of the emitted events throws.
 * - Every way back to healthy after a reconnection or a silence goes through a re-read
 *   (`start_resync`, then `resync_finished` of the current generation). Only the first
 *   connection, with no order open, is healthy at once.
 * - A drop or a new re-read moves the generation on, so a re-read already in flight is
 *   ignored when it ends.
 * - Pure: the same state and event always give the same result.
 */
export function transitionStreamHealth(
  state: StreamHealthState,
  event: StreamHealthEvent,
): StreamHealthTransition {
  const open = event.hasOpenOrders;
  switch (event.type) {
    case "status":
      if (state.closed) return UNCHANGED(state);
      return event.status === "connected" ? connect(state, open) : drop(state, event.status, open);
    case "update":
      return streamUpdate(state, event.at, open);
    case "missed_change":
      return missedChange(state, event.changedAt, event.at, open);
    case "resync_finished":
      if (state.closed || event.generation !== state.generation) return UNCHANGED(state);
      return refresh(freeze({ ...state, resyncing: false, openOrders: event.openOrders }), open);
    case "resync_failed":
      // Stay down (and polling); try again a poll interval later.
      if (state.closed || event.generation !== state.generation) return UNCHANGED(state);
      return { state, effects: [{ type: "schedule_resync_retry", generation: event.generation }] };
    case "resync_retry":
      if (state.closed || event.generation !== state.generation || !state.connected) return UNCHANGED(state);
      return startResync(state, open);
    case "orders_changed":
      return refresh(state, open);
    case "poll_due":
      if (state.closed) return UNCHANGED(state);
      return { state: freeze({ ...state, polling: false }), effects: [{ type: "poll" }] };
    case "poll_done":
      return syncPolling(state, open, []);
    case "close":
      if (state.closed) return UNCHANGED(state);
      return syncPolling(freeze({ ...state, closed: true }), open, []);
  }
}

/** A connection: a reconnect (or one with orders open) is re-read before it counts. */
function connect(state: StreamHealthState, open: boolean): StreamHealthTransition {
  if (state.connected) return UNCHANGED(state);
  // A new connection is not known to be silent; the re-read covers what was missed.
  const next = freeze({ ...state, connected: true, silent: false, everConnected: true });
  return state.everConnected || open ? startResync(next, open) : refresh(next, open);
}

/** A drop: down at once, and a re-read in flight is abandoned. */
function drop(
  state: StreamHealthState,
  status: Exclude<StreamStatus, "connected">,
  open: boolean,
): StreamHealthTransition {
  const next = freeze({ ...state, connected: false, generation: state.generation + 1, resyncing: false });
  return refresh(next, open, status);
}

/** An update proves the connection (even from a port that never reported it) and ends a silence. */
function streamUpdate(state: StreamHealthState, at: number, open: boolean): StreamHealthTransition {
  if (state.closed) return UNCHANGED(state);
  const heard = freeze({ ...state, lastStreamAt: at });
  if (!heard.connected) return connect(heard, open);
  if (heard.silent) return startResync(freeze({ ...heard, silent: false }), open);
  return UNCHANGED(heard);
}

/** A change the connected stream should have delivered long ago means it is silent. */
function missedChange(
  state: StreamHealthState,
  changedAt: number,
  at: number,
  open: boolean,
): StreamHealthTransition {
  if (state.closed || state.streamless || !state.connected || state.resyncing || state.silent) {
    return UNCHANGED(state);
  }
  const heard = state.lastStreamAt !== undefined && state.lastStreamAt >= changedAt;
  if (at - changedAt < state.silenceMs || heard) return UNCHANGED(state);
  return refresh(freeze({ ...state, silent: true }), open, "silent");
}

function startResync(state: StreamHealthState, open: boolean): StreamHealthTransition {
  const generation = state.generation + 1;
  const { state: next, effects } = refresh(
    freeze({ ...state, generation, resyncing: true }),
    open,
    "resyncing",
  );
  return { state: next, effects: [...effects, { type: "start_resync", generation }] };
}

/** Recomputes health: on a change, the down or up notifications; then polling follows. */
function refresh(state: StreamHealthState, open: boolean, reason?: StreamDownReason): StreamHealthTransition {
  const healthy = impliedHealth(state, open);
  if (healthy === state.healthy) return syncPolling(state, open, []);
  if (healthy) {
    const next = freeze({ ...state, healthy });
    return syncPolling(next, open, [
      { type: "stream_up", openOrders: next.openOrders },
      { type: "notify_health_waiters" },
    ]);
  }
  const why: StreamDownReason =
    reason ?? (state.silent ? "silent" : state.resyncing ? "resyncing" : "disconnected");
  return syncPolling(freeze({ ...state, healthy, downs: state.downs + 1 }), open, [
    { type: "stream_down", reason: why },
  ]);
}

/** Starts or stops polling to match the state; the timer's change comes before `then`. */
function syncPolling(
  state: StreamHealthState,
  open: boolean,
  then: readonly StreamHealthEffect[],
): StreamHealthTransition {
  const shouldPoll = !state.closed && (state.streamless || !state.healthy) && open;
  if (shouldPoll && !state.polling) {
    return { state: freeze({ ...state, polling: true }), effects: [{ type: "start_polling" }, ...then] };
  }
  if (!shouldPoll && state.polling) {
    return { state: freeze({ ...state, polling: false }), effects: [{ type: "stop_polling" }, ...then] };
  }
  return { state, effects: then };
}

function freeze(state: StreamHealthState): StreamHealthState {
  return Object.freeze(state);
}
