import { z } from "zod";
import type { BrokerOrderStatus, OrderSnapshot, OrderUpdate } from "../broker/broker-port.js";
import { OrderSnapshotSchema, OrderUpdateSchema } from "../broker/schemas.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import { parseInput } from "../core/validation.js";

/**
 * The broker's working statuses: every broker status that is not final (checked against the
 * broker vocabulary by the tests).
 */
export const WORKING_ORDER_STATUSES = [
  "pending_new",
  "accepted",
  "accepted_for_bidding",
  "held",
  "new",
  "suspended",
  "stopped",
  "partially_filled",
  "pending_replace",
  "pending_cancel",
] as const satisfies readonly BrokerOrderStatus[];

/** The broker statuses in which an order still works (every non-final broker status). */
export type WorkingOrderStatus = (typeof WORKING_ORDER_STATUSES)[number];

/**
 * The broker's final statuses an order state takes as they are. The broker's seventh final
 * status, `calculated`, becomes `filled` or `done_for_day` by its filled quantity.
 */
const BROKER_FINALS = [
  "filled",
  "canceled",
  "expired",
  "rejected",
  "replaced",
  "done_for_day",
] as const satisfies readonly BrokerOrderStatus[];

/** The final states: the broker's, then the two local ones. */
export const FINAL_ORDER_STATUSES = [...BROKER_FINALS, "submit_failed", "unresolved"] as const;

/**
 * The final states of an order. `submit_failed`: certainly never placed. `unresolved`: the
 * broker could not tell us after the bounded checks (never silently a failure). There is no
 * "timeout" state.
 */
export type FinalOrderStatus = (typeof FINAL_ORDER_STATUSES)[number];

/** The local states before the broker's first answer: about to be sent, sent with an unknown outcome. */
const LOCAL_ORDER_STATUSES = ["pending_submit", "submit_unconfirmed"] as const;

/**
 * Every state of an order: the local `pending_submit` (about to be sent) and
 * `submit_unconfirmed` (sent, outcome unknown), the broker's working statuses, and the
 * final states.
 */
export type OrderStatus = (typeof LOCAL_ORDER_STATUSES)[number] | WorkingOrderStatus | FinalOrderStatus;

/**
 * The explicit table of allowed (from, to) pairs. Staying in the same state is always
 * allowed (and is not a transition).
 *
 * @remarks
 * - `canceled`, `expired` and `done_for_day` may still become `filled`: fills race cancels,
 *   and the broker's word that the order filled wins.
 * - `unresolved` may become anything the broker later reports: it is "we could not tell",
 *   not a verdict.
 * - `filled`, `rejected`, `replaced` and `submit_failed` are absorbing.
 * - A working status arriving after a final one is a stale update (ignored, its fill still
 *   applied), not an illegal transition.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending_submit: ["submit_unconfirmed", "submit_failed", ...WORKING_ORDER_STATUSES, ...BROKER_FINALS],
  submit_unconfirmed: ["submit_failed", "unresolved", ...WORKING_ORDER_STATUSES, ...BROKER_FINALS],
  pending_new: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS, "unresolved"],
  accepted: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS, "unresolved"],
  accepted_for_bidding: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS, "unresolved"],
  held: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS, "unresolved"],
  new: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS, "unresolved"],
  suspended: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS, "unresolved"],
  stopped: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS, "unresolved"],
  partially_filled: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS, "unresolved"],
  pending_replace: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS, "unresolved"],
  pending_cancel: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS, "unresolved"],
  filled: [],
  canceled: ["filled"],
  expired: ["filled"],
  done_for_day: ["filled"],
  rejected: [],
  replaced: [],
  submit_failed: [],
  unresolved: [...WORKING_ORDER_STATUSES, ...BROKER_FINALS],
};

const FINAL_SET: ReadonlySet<OrderStatus> = new Set<OrderStatus>(FINAL_ORDER_STATUSES);

/**
 * Whether a state is final.
 *
 * @param status - a state
 * @returns true for the {@link FinalOrderStatus} values
 * @example
 * ```ts
 * isFinalOrderStatus("pending_cancel"); // false
 * ```
 */
export function isFinalOrderStatus(status: OrderStatus): status is FinalOrderStatus {
  return FINAL_SET.has(status);
}

/**
 * Whether the table allows moving from one state to another.
 *
 * @param from - the current state
 * @param to - the next state
 * @returns true when `(from, to)` is in {@link ORDER_TRANSITIONS} or `from === to`
 * @example
 * ```ts
 * isAllowedTransition("canceled", "filled"); // true: a fill raced the cancel
 * isAllowedTransition("filled", "canceled"); // false
 * ```
 */
export function isAllowedTransition(from: OrderStatus, to: OrderStatus): boolean {
  return from === to || ORDER_TRANSITIONS[from].includes(to);
}

/** One status change in an order's history. */
export interface OrderHistoryEntry {
  /** When (ms since the epoch: the event's time). */
  readonly at: number;
  /** The state before. */
  readonly from: OrderStatus;
  /** The state after. */
  readonly to: OrderStatus;
  /** The event type that caused it. */
  readonly event: OrderEvent["type"];
}

/**
 * An order's state: an immutable record, replaced (never mutated) by {@link transition}.
 */
export interface OrderState {
  /** The state. */
  readonly status: OrderStatus;
  /** The caller's id, known from the start. */
  readonly clientOrderId: string;
  /** The broker's id, once known. */
  readonly orderId: string | undefined;
  /** Cumulative filled shares: never decreases. */
  readonly filledQty: Decimal;
  /** Average fill price, from the broker's snapshot with the largest filled quantity. */
  readonly filledAvgPrice: Decimal | undefined;
  /** `filledQty × filledAvgPrice` (zero without fills). */
  readonly filledNotional: Decimal;
  /** Execution ids of the fills applied (deduplication). */
  readonly executionIds: readonly string[];
  /** The broker's `updatedAt` (ms) of the freshest snapshot applied: older ones are stale. */
  readonly brokerUpdatedAt: number | undefined;
  /** When the last event was applied (ms, the event's time). */
  readonly lastEventAt: number;
  /** The latest broker snapshot applied. */
  readonly snapshot: OrderSnapshot | undefined;
  /** Consecutive "not found" answers to lookups since the order was last seen. */
  readonly notFoundCount: number;
  /** Whether a cancel was requested. */
  readonly cancelRequested: boolean;
  /** Why the order is in a local final state (`submit_failed`, `unresolved`) or was rejected. */
  readonly reason: string | undefined;
  /** Status changes, oldest first. */
  readonly history: readonly OrderHistoryEntry[];
}

/** What an order ended as: the answer of `waitForFinal`. */
export interface FinalOrderState {
  /** The final state. */
  readonly status: FinalOrderStatus;
  /** The caller's id. */
  readonly clientOrderId: string;
  /** The broker's id, when known. */
  readonly orderId: string | undefined;
  /** Cumulative filled shares (kept for every final state, `canceled` included). */
  readonly filledQty: Decimal;
  /** Average fill price, when anything filled. */
  readonly filledAvgPrice: Decimal | undefined;
  /** `filledQty × filledAvgPrice`. */
  readonly filledNotional: Decimal;
  /** The last broker snapshot (for `unresolved`: the last one known). */
  readonly snapshot: OrderSnapshot | undefined;
  /** Why, for `submit_failed`, `unresolved` and `rejected`. */
  readonly reason: string | undefined;
  /** When the order became final (ms, the event's time). */
  readonly at: number;
}

/**
 * What can happen to an order. `at` is ms since the epoch (the caller's clock).
 * - `submitted`: the submit call answered with this snapshot.
 * - `submit_ambiguous`: the submit may or may not have taken effect.
 * - `submit_failed`: the order was certainly never placed.
 * - `update`: a pushed broker update.
 * - `snapshot`: a REST read of the order.
 * - `lookup_not_found`: a REST lookup answered "unknown order".
 * - `cancel_requested`: a cancel was accepted by the broker (the order may still fill).
 * - `unresolved`: the bounded checks could not tell the order's state.
 */
export type OrderEvent =
  | { readonly type: "submitted"; readonly snapshot: OrderSnapshot; readonly at: number }
  | { readonly type: "submit_ambiguous"; readonly at: number; readonly reason?: string | undefined }
  | { readonly type: "submit_failed"; readonly at: number; readonly reason: string }
  | { readonly type: "update"; readonly update: OrderUpdate; readonly at: number }
  | { readonly type: "snapshot"; readonly snapshot: OrderSnapshot; readonly at: number }
  | { readonly type: "lookup_not_found"; readonly at: number }
  | { readonly type: "cancel_requested"; readonly at: number }
  | { readonly type: "unresolved"; readonly at: number; readonly reason: string };

/** Why an event changed nothing. */
export type IgnoredReason = "duplicate_execution" | "stale" | "other_order" | "already_final";

/**
 * What a transition asks the caller to do or know; data, run by the tracker.
 * - `status_changed`: the state moved.
 * - `fill`: the filled quantity grew by `qty` (cumulative `filledQty`).
 * - `final`: the order reached a final state (again, when a late event moved it on).
 * - `final_amended`: a final order's filled quantity grew (a fill after `canceled`).
 * - `illegal_transition`: the event asked for a move the table forbids; the status was kept.
 * - `ignored`: the event changed nothing.
 */
export type OrderEffect =
  | { readonly type: "status_changed"; readonly from: OrderStatus; readonly to: OrderStatus }
  | {
      readonly type: "fill";
      readonly qty: Decimal;
      readonly filledQty: Decimal;
      readonly price: Decimal | undefined;
      readonly executionId: string | undefined;
    }
  | { readonly type: "final"; readonly final: FinalOrderState }
  | { readonly type: "final_amended"; readonly final: FinalOrderState }
  | {
      readonly type: "illegal_transition";
      readonly from: OrderStatus;
      readonly to: OrderStatus;
      readonly event: OrderEvent["type"];
    }
  | { readonly type: "ignored"; readonly reason: IgnoredReason; readonly event: OrderEvent["type"] };

/** The result of {@link transition}. */
export interface TransitionResult {
  /** The next state (the same object when nothing changed). */
  readonly state: OrderState;
  /** What happened, in order. */
  readonly effects: readonly OrderEffect[];
}

const CreateSchema = z
  .object({
    clientOrderId: z.string().min(1),
    status: z.enum(["pending_submit", "submit_unconfirmed"]).optional(),
    at: z.number().finite(),
  })
  .strict();

/** Input of {@link createOrderState}. */
export type CreateOrderStateInput = z.input<typeof CreateSchema>;

/**
 * A fresh order state, before any broker answer.
 *
 * @param input - the client order id, the start state (`pending_submit` unless told) and the time
 * @returns the state
 * @throws ValidationError (`validation`) for an empty id or a non-finite time
 * @example
 * ```ts
 * let s = createOrderState({ clientOrderId: "run1-TECL-buy-0", at: clock.now() });
 * ({ state: s } = transition(s, { type: "submitted", snapshot, at: clock.now() }));
 * ```
 */
export function createOrderState(input: CreateOrderStateInput): OrderState {
  const p = parseInput(CreateSchema, input, "order");
  return Object.freeze({
    status: p.status ?? "pending_submit",
    clientOrderId: p.clientOrderId,
    orderId: undefined,
    filledQty: ZERO,
    filledAvgPrice: undefined,
    filledNotional: ZERO,
    executionIds: NONE,
    brokerUpdatedAt: undefined,
    lastEventAt: p.at,
    snapshot: undefined,
    notFoundCount: 0,
    cancelRequested: false,
    reason: undefined,
    history: NONE,
  });
}

const NONE: readonly never[] = Object.freeze([]);

const At = z.number().finite();
const EventSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("submitted"), snapshot: OrderSnapshotSchema, at: At }),
  z.object({ type: z.literal("submit_ambiguous"), at: At, reason: z.string().optional() }),
  z.object({ type: z.literal("submit_failed"), at: At, reason: z.string() }),
  z.object({ type: z.literal("update"), update: OrderUpdateSchema, at: At }),
  z.object({ type: z.literal("snapshot"), snapshot: OrderSnapshotSchema, at: At }),
  z.object({ type: z.literal("lookup_not_found"), at: At }),
  z.object({ type: z.literal("cancel_requested"), at: At }),
  z.object({ type: z.literal("unresolved"), at: At, reason: z.string() }),
]);

/**
 * Checks an event. The cast bridges the schema's output and {@link OrderEvent}: the broker
 * schemas type an order's status as a string.
 */
function parseOrderEvent(event: unknown): OrderEvent {
  return parseInput(EventSchema, event, "event") as OrderEvent;
}

// Within one broker instant, the further an order is in its life the newer the report.
const WORKING_RANK: Readonly<Record<WorkingOrderStatus, number>> = {
  pending_new: 0,
  accepted: 1,
  accepted_for_bidding: 1,
  held: 1,
  new: 2,
  suspended: 2,
  stopped: 3,
  partially_filled: 3,
  pending_replace: 4,
  pending_cancel: 4,
};

/** The local state a broker snapshot means. `calculated` is final: filled when complete. */
function statusOf(snapshot: OrderSnapshot): OrderStatus {
  if (snapshot.status !== "calculated") return snapshot.status;
  return snapshot.qty !== undefined && snapshot.filledQty.gte(snapshot.qty) ? "filled" : "done_for_day";
}

const WORKING_SET: ReadonlySet<OrderStatus> = new Set<OrderStatus>(WORKING_ORDER_STATUSES);

function isWorkingOrderStatus(status: OrderStatus): status is WorkingOrderStatus {
  return WORKING_SET.has(status);
}

function rankOf(status: OrderStatus): number {
  return isWorkingOrderStatus(status) ? WORKING_RANK[status] : -1;
}

/**
 * The final view of a state, as `waitForFinal` answers it.
 *
 * @param state - an order state (meant for a final one; a non-final one reads as `unresolved`)
 * @returns the final status, filled quantity and price, last snapshot and reason
 * @example
 * ```ts
 * if (isFinalOrderStatus(state.status)) report(toFinalOrderState(state));
 * ```
 */
export function toFinalOrderState(state: OrderState): FinalOrderState {
  return Object.freeze({
    status: finalStatusOf(state.status),
    clientOrderId: state.clientOrderId,
    orderId: state.orderId,
    filledQty: state.filledQty,
    filledAvgPrice: state.filledAvgPrice,
    filledNotional: state.filledNotional,
    snapshot: state.snapshot,
    reason: state.reason,
    at: finalAt(state),
  });
}

function finalStatusOf(status: OrderStatus): FinalOrderStatus {
  return isFinalOrderStatus(status) ? status : "unresolved";
}

function finalAt(state: OrderState): number {
  for (let i = state.history.length - 1; i >= 0; i--) {
    const h = state.history[i];
    if (h !== undefined && h.to === state.status) return h.at;
  }
  return state.lastEventAt;
}

/**
 * The order state machine: applies one event to a state.
 *
 * @param state - the current state (from {@link createOrderState} or an earlier transition)
 * @param event - what happened
 * @returns the next state and the effects; an illegal transition is an effect, never thrown
 * @throws ValidationError (`validation`) when the event is malformed (a programmer error)
 * @example
 * ```ts
 * const { state, effects } = transition(s, { type: "update", update, at: clock.now() });
 * if (effects.some((e) => e.type === "final")) console.log(state.status, state.filledQty.toString());
 * ```
 * @remarks
 * Rules:
 * - The filled quantity is the largest cumulative `filledQty` of any snapshot seen: it
 *   never decreases, and a fill whose execution id was seen, or which does not raise the
 *   cumulative quantity, is a duplicate.
 * - A fill arriving after `canceled` or `expired` is applied: the state stays final with the
 *   larger filled quantity (`final_amended`); if the broker now says `filled`, it becomes
 *   `filled`.
 * - A working status older than the freshest snapshot applied (by the broker's
 *   `updatedAt`, then filled quantity, then progress) is stale and ignored; a working status
 *   after a final one is stale. A final status is never stale.
 * - Pure: the same state and event always give the same result.
 */
export function transition(state: OrderState, event: OrderEvent): TransitionResult {
  const e = parseOrderEvent(event);
  switch (e.type) {
    case "submitted":
      return applySnapshot(state, e.snapshot, undefined, e);
    case "snapshot":
      return applySnapshot(state, e.snapshot, undefined, e);
    case "update":
      return applySnapshot(state, e.update.order, e.update, e);
    case "submit_ambiguous":
      if (state.status !== "pending_submit") {
        return ignoredOrIllegal(state, "submit_unconfirmed", e);
      }
      return moveTo(state, "submit_unconfirmed", e, { reason: e.reason });
    case "submit_failed":
      return moveTo(state, "submit_failed", e, { reason: e.reason });
    case "unresolved":
      if (isFinalOrderStatus(state.status)) {
        return ignoredOrIllegal(state, "unresolved", e);
      }
      return moveTo(state, "unresolved", e, { reason: e.reason });
    case "lookup_not_found":
      return {
        state: freeze({ ...state, notFoundCount: state.notFoundCount + 1, lastEventAt: e.at }),
        effects: [],
      };
    case "cancel_requested":
      return { state: freeze({ ...state, cancelRequested: true, lastEventAt: e.at }), effects: [] };
  }
}

function ignoredOrIllegal(state: OrderState, to: OrderStatus, e: OrderEvent): TransitionResult {
  if (state.status === to) {
    return { state, effects: [{ type: "ignored", reason: "already_final", event: e.type }] };
  }
  return { state, effects: [{ type: "illegal_transition", from: state.status, to, event: e.type }] };
}

function moveTo(
  state: OrderState,
  to: OrderStatus,
  e: OrderEvent,
  extra: { reason?: string | undefined },
): TransitionResult {
  if (state.status === to)
    return { state, effects: [{ type: "ignored", reason: "already_final", event: e.type }] };
  if (!isAllowedTransition(state.status, to)) {
    return { state, effects: [{ type: "illegal_transition", from: state.status, to, event: e.type }] };
  }
  const next = freeze({
    ...state,
    status: to,
    reason: extra.reason ?? state.reason,
    lastEventAt: e.at,
    history: Object.freeze([...state.history, { at: e.at, from: state.status, to, event: e.type }]),
  });
  const effects: OrderEffect[] = [{ type: "status_changed", from: state.status, to }];
  if (isFinalOrderStatus(to)) effects.push({ type: "final", final: toFinalOrderState(next) });
  return { state: next, effects };
}

function applySnapshot(
  state: OrderState,
  snapshot: OrderSnapshot,
  update: OrderUpdate | undefined,
  e: OrderEvent,
): TransitionResult {
  const ignored = ignoredBecause(state, snapshot, update);
  if (ignored !== undefined) return { state, effects: [{ type: "ignored", reason: ignored, event: e.type }] };
  const effects: OrderEffect[] = [];
  // Fills: the largest cumulative quantity wins, whatever the status or the order of arrival.
  const fills = fillsAfter(state, snapshot, update);
  if (fills.effect !== undefined) effects.push(fills.effect);
  // Status: a final report always counts; a working one only when it is not stale.
  const move = moveAfter(state, snapshot);
  if (move.refused !== undefined) {
    effects.push({ type: "illegal_transition", from: state.status, to: move.refused, event: e.type });
  }
  const next = nextState(state, snapshot, e, fills, move);
  effects.push(...statusEffects(state, next, fills.grows));
  if (effects.length === 0 && move.stale) effects.push({ type: "ignored", reason: "stale", event: e.type });
  return { state: next, effects };
}

/** Why a snapshot changes nothing at all: another order's, or a fill already applied. */
function ignoredBecause(
  state: OrderState,
  snapshot: OrderSnapshot,
  update: OrderUpdate | undefined,
): IgnoredReason | undefined {
  if (
    snapshot.clientOrderId !== state.clientOrderId ||
    (state.orderId !== undefined && snapshot.id !== state.orderId)
  ) {
    return "other_order";
  }
  const executionId = update?.fill?.executionId;
  if (executionId !== undefined && state.executionIds.includes(executionId)) return "duplicate_execution";
  return undefined;
}

/** The fill figures after a snapshot, and the `fill` effect when the filled quantity grew. */
interface FillsAfter {
  readonly grows: boolean;
  readonly filledQty: Decimal;
  readonly filledAvgPrice: Decimal | undefined;
  readonly executionIds: readonly string[];
  readonly effect: OrderEffect | undefined;
}

function fillsAfter(state: OrderState, snapshot: OrderSnapshot, update: OrderUpdate | undefined): FillsAfter {
  const executionId = update?.fill?.executionId;
  const executionIds =
    executionId === undefined ? state.executionIds : Object.freeze([...state.executionIds, executionId]);
  if (!snapshot.filledQty.gt(state.filledQty)) {
    return {
      grows: false,
      filledQty: state.filledQty,
      filledAvgPrice: state.filledAvgPrice,
      executionIds,
      effect: undefined,
    };
  }
  const filledQty = snapshot.filledQty;
  return {
    grows: true,
    filledQty,
    filledAvgPrice: snapshot.filledAvgPrice ?? averageWith(state, filledQty, update),
    executionIds,
    effect: {
      type: "fill",
      qty: filledQty.minus(state.filledQty),
      filledQty,
      price: update?.fill?.price ?? snapshot.filledAvgPrice,
      executionId,
    },
  };
}

/** The status after a snapshot: its own, unless stale (kept) or refused by the table (kept). */
interface MoveAfter {
  readonly to: OrderStatus;
  readonly stale: boolean;
  /** The status the table refused, when it did. */
  readonly refused: OrderStatus | undefined;
}

function moveAfter(state: OrderState, snapshot: OrderSnapshot): MoveAfter {
  const to = statusOf(snapshot);
  if (!isFinalOrderStatus(to)) {
    const wasFinal = isFinalOrderStatus(state.status);
    const stale =
      (wasFinal && state.status !== "unresolved") ||
      isNewer(state, snapshot, snapshot.updatedAt.getTime()) === false;
    if (stale) return { to: state.status, stale: true, refused: undefined };
  }
  if (!isAllowedTransition(state.status, to)) return { to: state.status, stale: false, refused: to };
  return { to, stale: false, refused: undefined };
}

function nextState(
  state: OrderState,
  snapshot: OrderSnapshot,
  e: OrderEvent,
  fills: FillsAfter,
  move: MoveAfter,
): OrderState {
  const { to } = move;
  const { filledQty, filledAvgPrice } = fills;
  const snapAt = snapshot.updatedAt.getTime();
  const fresher = state.brokerUpdatedAt === undefined || snapAt >= state.brokerUpdatedAt;
  const useSnapshot = !move.stale && move.refused === undefined ? true : fills.grows;
  return freeze({
    ...state,
    status: to,
    orderId: state.orderId ?? snapshot.id,
    filledQty,
    filledAvgPrice,
    filledNotional: filledAvgPrice === undefined ? ZERO : filledQty.times(filledAvgPrice),
    executionIds: fills.executionIds,
    brokerUpdatedAt: fresher ? snapAt : state.brokerUpdatedAt,
    lastEventAt: e.at,
    snapshot: useSnapshot ? mergeSnapshot(snapshot, filledQty, filledAvgPrice, to) : state.snapshot,
    notFoundCount: 0,
    reason:
      to === "rejected" ? (snapshot.rejectReason ?? state.reason ?? "rejected by the broker") : state.reason,
    history:
      to === state.status
        ? state.history
        : Object.freeze([...state.history, { at: e.at, from: state.status, to, event: e.type }]),
  });
}

/** `status_changed` (and `final`) on a move; `final_amended` when a final order's fills grew. */
function statusEffects(state: OrderState, next: OrderState, grows: boolean): OrderEffect[] {
  if (next.status !== state.status) {
    const changed: OrderEffect = { type: "status_changed", from: state.status, to: next.status };
    return isFinalOrderStatus(next.status)
      ? [changed, { type: "final", final: toFinalOrderState(next) }]
      : [changed];
  }
  if (isFinalOrderStatus(state.status) && grows) {
    return [{ type: "final_amended", final: toFinalOrderState(next) }];
  }
  return [];
}

/** Without the broker's average: the previous notional plus this fill, over the new quantity. */
function averageWith(
  state: OrderState,
  filledQty: Decimal,
  update: OrderUpdate | undefined,
): Decimal | undefined {
  const fill = update?.fill;
  if (fill === undefined) return state.filledAvgPrice;
  const added = filledQty.minus(state.filledQty).times(fill.price);
  return state.filledNotional.plus(added).div(filledQty);
}

/** Whether a snapshot is at least as new as what the state has seen (undefined: no basis). */
function isNewer(state: OrderState, snapshot: OrderSnapshot, snapAt: number): boolean | undefined {
  if (state.brokerUpdatedAt === undefined) return undefined;
  if (snapAt !== state.brokerUpdatedAt) return snapAt > state.brokerUpdatedAt;
  const cmp = snapshot.filledQty.comparedTo(state.filledQty);
  if (cmp !== 0) return cmp > 0;
  return rankOf(statusOf(snapshot)) >= rankOf(state.status);
}

/** The snapshot kept in the state: the broker's, with our monotonic fill figures and status. */
function mergeSnapshot(
  snapshot: OrderSnapshot,
  filledQty: Decimal,
  filledAvgPrice: Decimal | undefined,
  status: OrderStatus,
): OrderSnapshot {
  const merged: OrderSnapshot = { ...snapshot, filledQty };
  if (filledAvgPrice !== undefined) merged.filledAvgPrice = filledAvgPrice;
  // A late fill on a canceled order keeps `canceled` in the snapshot too.
  if (isBrokerStatus(status)) merged.status = status;
  return Object.freeze(merged);
}

function isBrokerStatus(status: OrderStatus): status is OrderStatus & BrokerOrderStatus {
  return (
    status !== "pending_submit" &&
    status !== "submit_unconfirmed" &&
    status !== "submit_failed" &&
    status !== "unresolved"
  );
}

function freeze(state: OrderState): OrderState {
  return Object.freeze(state);
}
