import type { BrokerPort, OrderRequest, OrderSide, OrderSnapshot, Quote } from "../../broker/broker-port.js";
import { isFinalBrokerStatus } from "../../broker/broker-port.js";
import { checkBroker } from "../../broker/checked-broker.js";
import type { Clock } from "../../core/clock.js";
import { Decimal, floorToIncrement, ZERO } from "../../core/decimal.js";
import { isBrokerError } from "../../core/errors.js";
import { clientOrderId } from "../../core/ids.js";
import {
  EXECUTION_POLICY_DEFAULTS as D,
  type ExecutionPolicy,
  parseExecutionPolicy,
} from "./execution-policy.js";
import {
  marketableLimit,
  midOf,
  type QuoteProblem,
  quoteProblem,
  slippageCapPrice,
  slippageOf,
  spreadBpsOf,
  stepLimit,
  withinCap,
} from "./limit-pricing.js";

/**
 * One leg to execute: shares of a symbol on one side, or dollars of it. A notional leg is
 * sized in shares from the arrival quote (limit orders need a quantity): its dollars over the
 * highest price the policy may pay on a buy (the far touch plus the collar, or the slippage
 * cap), over the mid on a sell, rounded down to `qtyIncrement`. Without a usable quote and
 * `onNoQuote: "market"`, it goes as one notional market order.
 */
export type PolicyLeg =
  | {
      readonly symbol: string;
      readonly side: OrderSide;
      readonly qty: Decimal;
      readonly notional?: undefined;
    }
  | {
      readonly symbol: string;
      readonly side: OrderSide;
      readonly notional: Decimal;
      readonly qty?: undefined;
    };

/** The order a hold is for: market or limit, its shares (or dollars) and limit price. */
export interface HeldOrder {
  readonly type: "market" | "limit";
  readonly qty?: Decimal | undefined;
  readonly notional?: Decimal | undefined;
  readonly limitPrice?: Decimal | undefined;
}

/**
 * What a leg holds of buying power while an order of it works: reserved under the order's
 * client order id before it is sent, released once it is final (or replaced by the next).
 * The `BuyingPowerManager` of a run, or a ledger of your own.
 */
export interface LegFunds {
  /**
   * Holds `amount` under `key` (the leg's own estimate: limit × shares, or the quote × (1 +
   * 3%) × shares for a market buy; `order` says what it is for, so a ledger may price it
   * itself); false when it does not fit (the leg then stops).
   */
  reserve(key: string, amount: Decimal, order: HeldOrder): boolean | Promise<boolean>;
  /** Releases what `key` holds (idempotent). */
  release(key: string): void;
}

/** Options of {@link executeLeg}. */
export interface ExecuteLegOptions {
  /** The broker (wrapped by `checkBroker`): quotes, and replace when it has it. */
  broker: BrokerPort;
  /** The clock every wait runs on. */
  clock: Clock;
  /** The run: client order ids come from (runId, symbol, side, generation). */
  runId: string;
  /** The first generation. @defaultValue 0 */
  generation?: number;
  /** The asset's quantity step: the rest of a leg below it is not sent. @defaultValue 0.000000001 */
  qtyIncrement?: Decimal;
  /** Holds buying power for each order of a buy leg. */
  funds?: LegFunds;
  /** Aborts the waits (the abort reason is thrown). */
  signal?: AbortSignal;
  /**
   * The first generation the leg may not use: a chain that would need more ids stops stepping
   * early (noted), keeping one id for a market final action. @defaultValue no limit
   */
  generationLimit?: number;
  /** Called with each order request just before it is sent (a replace as the request of its new order). */
  onSend?: (request: OrderRequest, via: "submit" | "replace") => void;
  /** Called once the broker holds an order of the leg (its reply, or found after a lost one). */
  onAccepted?: (order: OrderSnapshot) => void;
}

/** Every definitive outcome of a leg. */
export const LEG_STATES = ["filled", "canceled", "held", "skipped", "rejected", "unresolved"] as const;
/** A leg's outcome: `filled` in full; `canceled` with what filled (maybe 0); `held` (the last limit left working); `skipped` (nothing sent); `rejected`; `unresolved` (an order of it could not be settled). */
export type LegState = (typeof LEG_STATES)[number];

/** One order of a leg's chain, as last read. */
export interface LegOrderReport {
  readonly id: string;
  readonly clientOrderId: string;
  readonly type: "market" | "limit";
  readonly limitPrice: Decimal | undefined;
  readonly status: string;
  readonly filledQty: Decimal;
  readonly filledAvgPrice: Decimal | undefined;
  /** How it came: submitted, or by a replace of the previous one. */
  readonly via: "submit" | "replace";
  /** The broker's snapshot of it, as last read. */
  readonly snapshot: OrderSnapshot;
}

/** The outcome of one leg executed by a policy: its chain of orders and what they did together. */
export interface LegReport {
  readonly symbol: string;
  readonly side: OrderSide;
  /** Shares asked for (a notional leg's, once sized; undefined when it went as a notional market order). */
  readonly requestedQty: Decimal | undefined;
  /** Dollars asked for, for a notional leg. */
  readonly requestedNotional: Decimal | undefined;
  readonly state: LegState;
  /** Shares filled across the chain (late fills of replaced and cancelled orders included). */
  readonly filledQty: Decimal;
  /** The average fill price across the chain. */
  readonly avgPrice: Decimal | undefined;
  /** The mid when the leg started (undefined without a usable quote). */
  readonly arrivalMid: Decimal | undefined;
  /** Slippage against the arrival mid, bps of the filled notional (positive: it cost). */
  readonly slippageBps: number;
  /** Slippage against the arrival mid, in dollars. */
  readonly slippageDollars: Decimal;
  /** Limit prices tried (each replace or resubmit is a step). */
  readonly steps: number;
  /** Every order of the chain, oldest first. */
  readonly orders: readonly LegOrderReport[];
  /** Why it was skipped, or what happened without a quote, or why it stopped: reported, never silent. */
  readonly notes: readonly string[];
  readonly startedAt: number;
  readonly endedAt: number;
  /** The generation after the last one the leg used: the next order of its (symbol, side) takes it. */
  readonly nextGeneration: number;
}

/** The quantity step of a fractional asset. */
const FINEST_INCREMENT = new Decimal("0.000000001");

/** Bounded lookups of an order whose submit or replace reply was lost. */
const LOOKUP_ATTEMPTS = 5;

/** How long an order (a market order, a cancel) may take to become final before the leg is unresolved (ms). */
const FINAL_WAIT_MS = 60_000;

/**
 * After a cancel is confirmed, how long the leg waits and reads the order again before it
 * sends the rest: a fill may still arrive after `canceled` (ms).
 */
const LATE_FILL_SETTLE_MS = 1_000;

/** The mutable state of one leg's execution. */
class LegRun {
  readonly orders: OrderSnapshot[] = [];
  readonly via = new Map<string, "submit" | "replace">();
  readonly notes: string[] = [];
  /** What each order of the leg holds now, by client order id. */
  readonly holds = new Map<string, Decimal>();
  generation: number;
  /** Shares of the leg: a notional leg's once sized from the quote (undefined before, or when sent by notional). */
  qty: Decimal | undefined;
  steps = 0;
  held: string | undefined;
  arrivalMid: Decimal | undefined;
  cap: Decimal | undefined;
  unresolved = false;
  rejected = false;

  constructor(
    readonly leg: PolicyLeg,
    readonly policy: ExecutionPolicy,
    readonly o: ExecuteLegOptions,
    readonly broker: BrokerPort,
    readonly startedAt: number,
  ) {
    this.generation = o.generation ?? 0;
    this.qty = leg.qty;
  }

  /** Client order ids the leg may still take. */
  idsLeft(): number {
    return (this.o.generationLimit ?? Number.POSITIVE_INFINITY) - this.generation;
  }

  nextClientOrderId(): string {
    return clientOrderId({
      runId: this.o.runId,
      symbol: this.leg.symbol,
      side: this.leg.side,
      generation: this.generation++,
    });
  }

  filled(): Decimal {
    return this.orders.reduce((s, x) => s.plus(x.filledQty), ZERO);
  }

  increment(): Decimal {
    return this.o.qtyIncrement ?? FINEST_INCREMENT;
  }

  rest(): Decimal {
    if (this.qty === undefined) return ZERO;
    return floorToIncrement(Decimal.max(ZERO, this.qty.minus(this.filled())), this.increment());
  }

  remember(order: OrderSnapshot, via: "submit" | "replace"): void {
    const i = this.orders.findIndex((x) => x.id === order.id);
    if (i >= 0) this.orders[i] = order;
    else {
      this.orders.push(order);
      this.via.set(order.id, via);
    }
  }

  async sleep(ms: number): Promise<void> {
    await this.o.clock.sleep(ms, this.o.signal);
  }
}

/**
 * Executes one leg by an execution policy: reads the quote (the spread gate, `onNoQuote`),
 * then sends a market order, or a marketable limit worked for `workMs`, or limits stepped
 * toward the far touch (replaced in place when the broker can and the order has no fill, else
 * cancelled, confirmed final, and the rest resubmitted), then the final action. One order of
 * the leg works at a time.
 *
 * @param leg - symbol, side and shares
 * @param policy - the policy (or a preset's name)
 * @param options - broker, clock, run id, funds
 * @returns the leg's report: one definitive state, every order of its chain, and the fills
 *   of all of them (late fills of replaced and cancelled orders read again at the end)
 * @throws ValidationError (`validation`) for a bad policy; the abort reason when aborted
 * @remarks
 * - Each new order gets the next client order id generation; a replace whose reply is lost
 *   is settled by reading the chain (the old order `replaced` and the new one found by its
 *   client order id, or the old one still working: not replaced); a submit whose reply is
 *   lost is looked up by client order id, never sent again under another id.
 * - A buy's hold follows the step: limit × rest for a limit, price × (1 + 3%) × rest for a
 *   market order; released when the order is final or replaced.
 * - No opposite-side order of the leg's symbol may be open (the broker's wash-trade guard):
 *   the leg is skipped when one is.
 * @example
 * ```ts
 * const report = await executeLeg({ symbol: "SPY", side: "buy", qty: new Decimal(10) }, "patient", { broker, clock, runId });
 * report.state; // "filled"
 * ```
 */
export async function executeLeg(
  leg: PolicyLeg,
  policy: ExecutionPolicy | string | Record<string, unknown>,
  options: ExecuteLegOptions,
): Promise<LegReport> {
  const p = parseExecutionPolicy(policy);
  const broker = checkBroker(options.broker);
  const run = new LegRun(leg, p, options, broker, options.clock.now());
  if (await oppositeSideOpen(run)) return report(run, "skipped");
  const quote = await arrivalQuote(run);
  if (quote === "skip") return report(run, "skipped");
  if (quote === "market") {
    await sendMarket(run);
    return finish(run);
  }
  run.arrivalMid = midOf(quote);
  if (p.maxSlippageBps !== undefined) run.cap = slippageCapPrice(run.arrivalMid, leg.side, p.maxSlippageBps);
  if (p.type !== "market" && !sizeNotional(run, quote)) return report(run, "skipped");
  if (p.type === "market") await sendMarket(run);
  else if (p.type === "marketable_limit") await workMarketable(run, quote);
  else await workSteps(run, quote);
  return finish(run);
}

/** Whether an order on the other side of the symbol is open: sending would be a wash trade. */
async function oppositeSideOpen(run: LegRun): Promise<boolean> {
  const open = await run.broker.listOpenOrders({ signal: run.o.signal });
  const other = open.find((x) => x.symbol === run.leg.symbol && x.side !== run.leg.side);
  if (other === undefined) return false;
  run.notes.push(
    `an opposite-side order (${other.clientOrderId}) is open on ${run.leg.symbol}: not sent (wash trade)`,
  );
  return true;
}

/** Reads a usable quote: through the spread gate, waiting when the policy says so. */
async function readQuote(run: LegRun): Promise<Quote | QuoteProblem | "wide"> {
  const quotes = run.broker.getLatestQuotes;
  if (quotes === undefined || run.broker.capabilities.quotes !== true) return "missing";
  let q: Quote | undefined;
  try {
    q = (await quotes.call(run.broker, [run.leg.symbol], { signal: run.o.signal })).get(run.leg.symbol);
  } catch (e) {
    if (run.o.signal?.aborted) throw e;
    return "missing";
  }
  const problem = quoteProblem(q, run.o.clock.now(), run.policy.quoteMaxAgeMs ?? D.quoteMaxAgeMs);
  if (problem !== undefined || q === undefined) return problem ?? "missing";
  if (run.policy.maxSpreadBps !== undefined && spreadBpsOf(q) > run.policy.maxSpreadBps) return "wide";
  return q;
}

/** The arrival quote, or what to do without one (`onNoQuote`, the spread gate), noted. */
async function arrivalQuote(run: LegRun): Promise<Quote | "skip" | "market"> {
  const p = run.policy;
  const deadline = run.o.clock.now() + (p.quoteWaitMs ?? D.quoteWaitMs);
  for (;;) {
    const q = await readQuote(run);
    if (typeof q !== "string") return q;
    if (q !== "wide" && p.type === "market") {
      run.notes.push(`no usable quote (${q}): the arrival mid is unknown`);
      return "market";
    }
    const action = q === "wide" ? (p.spreadAction ?? D.spreadAction) : (p.onNoQuote ?? D.onNoQuote);
    const what = q === "wide" ? `spread above ${p.maxSpreadBps} bps` : `no usable quote (${q})`;
    if (action === "market") {
      run.notes.push(`${what}: sent as a market order (onNoQuote "market")`);
      return "market";
    }
    if (action === "skip" || run.o.clock.now() >= deadline) {
      run.notes.push(`${what}: skipped${action === "wait" ? " after waiting" : ""}`);
      return "skip";
    }
    await run.sleep(
      p.type === "market" ? D.pollMs : Math.min(D.pollMs * 4, Math.max(1, deadline - run.o.clock.now())),
    );
  }
}

/**
 * Sizes a notional leg in shares at the highest price the policy may pay (a buy) or the mid
 * (a sell), rounded down to the increment. False (noted) when that is under one increment.
 */
function sizeNotional(run: LegRun, quote: Quote | undefined): boolean {
  const notional = run.leg.notional;
  if (notional === undefined || run.qty !== undefined) return true;
  const p = run.policy;
  const collar = p.type === "marketable_limit" ? (p.collarBps ?? D.collarBps) : 0;
  const price =
    run.cap ??
    (quote === undefined
      ? undefined
      : run.leg.side === "buy"
        ? marketableLimit(quote, "buy", collar)
        : midOf(quote));
  if (price === undefined || price.isZero()) return false;
  run.qty = floorToIncrement(notional.div(price), run.increment());
  if (run.qty.gt(0)) return true;
  run.notes.push(`$${notional.toFixed(2)} is under one share increment at ${price.toFixed()}: not sent`);
  return false;
}

/** Sends the rest as one market order (within the slippage cap: a marketable limit at the cap instead) and follows it. */
async function sendMarket(run: LegRun): Promise<void> {
  if (run.cap !== undefined && !sizeNotional(run, undefined)) return;
  if (run.idsLeft() < 1) {
    run.notes.push("every client order id of the leg is used: the rest is not sent");
    return;
  }
  // A notional leg without a quote goes as one notional market order (never twice).
  const notional = run.qty === undefined && run.orders.length === 0 ? run.leg.notional : undefined;
  const qty = run.rest();
  if (notional === undefined && qty.isZero()) return;
  const request: OrderRequest =
    notional !== undefined
      ? base(run, { notional }, "market")
      : run.cap === undefined
        ? base(run, { qty }, "market")
        : { ...base(run, { qty }, "limit"), limitPrice: run.cap };
  const order = await submit(run, request);
  if (order === undefined) return;
  const ended = await follow(run, order, FINAL_WAIT_MS);
  if (!isFinalBrokerStatus(ended.status))
    unresolved(run, `${order.clientOrderId} did not end within ${FINAL_WAIT_MS} ms`);
}

/** One marketable limit at the far touch plus the collar, worked for `workMs`, then the rest cancelled. */
async function workMarketable(run: LegRun, quote: Quote): Promise<void> {
  const p = run.policy;
  const collar = p.type === "marketable_limit" ? (p.collarBps ?? D.collarBps) : D.collarBps;
  const limit = withinCap(marketableLimit(quote, run.leg.side, collar), run.cap, run.leg.side);
  const order = await submit(run, { ...base(run, { qty: run.rest() }, "limit"), limitPrice: limit });
  if (order === undefined) return;
  const after = await follow(run, order, p.type === "marketable_limit" ? (p.workMs ?? D.workMs) : D.workMs);
  if (!isFinalBrokerStatus(after.status)) await cancelAndConfirm(run, after);
}

/** Limits stepped toward the far touch, re-priced from the quote at each step, then the final action. */
async function workSteps(run: LegRun, arrival: Quote): Promise<void> {
  const p = run.policy;
  if (p.type !== "stepped_limit") return;
  const steps = p.steps ?? D.steps;
  const stepMs = p.stepMs ?? D.stepMs;
  // One client order id is kept for a market final action.
  const keep = (p.finalAction ?? D.finalAction) === "market" ? 1 : 0;
  let quote = arrival;
  let working: OrderSnapshot | undefined;
  for (let k = 0; k < steps; k++) {
    if (run.idsLeft() <= keep) {
      run.notes.push(`stepping stopped after ${k} of ${steps} steps: the leg's client order ids are used`);
      break;
    }
    if (k > 0) {
      const q = await readQuote(run);
      if (typeof q !== "string") quote = q;
    }
    const limit = withinCap(
      stepLimit(quote, run.leg.side, k, steps, p.startAt ?? D.startAt),
      run.cap,
      run.leg.side,
    );
    working = await placeStep(run, working, limit);
    if (working === undefined) return;
    working = await follow(run, working, stepMs);
    if (run.rest().isZero()) return;
  }
  await finalAction(run, working);
}

/** After the last step: the rest to market (or the cap), left working, or cancelled. */
async function finalAction(run: LegRun, working: OrderSnapshot | undefined): Promise<void> {
  const action = run.policy.type === "stepped_limit" ? (run.policy.finalAction ?? D.finalAction) : "cancel";
  if (working === undefined || run.rest().isZero()) return;
  if (action === "hold" && !isFinalBrokerStatus(working.status)) {
    run.held = working.id;
    run.notes.push(`the last limit (${working.clientOrderId}) is left working`);
    return;
  }
  if (!isFinalBrokerStatus(working.status)) await cancelAndConfirm(run, working);
  if (action === "market" && !run.unresolved && !run.rejected) await sendMarket(run);
}

/**
 * The order of the next step at `limit`: the working order replaced in place when the broker
 * can and the order has no fill, else cancelled, confirmed final, and the rest sent anew.
 */
async function placeStep(
  run: LegRun,
  working: OrderSnapshot | undefined,
  limit: Decimal,
): Promise<OrderSnapshot | undefined> {
  if (working !== undefined && !isFinalBrokerStatus(working.status) && working.limitPrice?.eq(limit)) {
    return working;
  }
  const canReplace = run.broker.replaceOrder !== undefined && run.broker.capabilities.replace === true;
  if (working !== undefined && !isFinalBrokerStatus(working.status)) {
    if (canReplace && working.filledQty.isZero()) {
      const replaced = await replace(run, working, limit);
      if (replaced !== "not_replaced") return replaced;
    }
    const ended = await cancelAndConfirm(run, working);
    if (!isFinalBrokerStatus(ended.status)) return undefined;
  }
  const qty = run.rest();
  if (qty.isZero() || run.unresolved) return undefined;
  return submit(run, { ...base(run, { qty }, "limit"), limitPrice: limit });
}

/**
 * Replaces the working order. A lost reply is settled by reading the chain: the old order
 * `replaced` means it took effect (the new one is found by its client order id); the old one
 * still working means it did not.
 *
 * @returns the new order; `not_replaced` when the old one was not replaced (it is then
 *   working or final, as read); undefined when the chain cannot be settled (unresolved)
 */
async function replace(
  run: LegRun,
  old: OrderSnapshot,
  limit: Decimal,
): Promise<OrderSnapshot | "not_replaced" | undefined> {
  const id = run.nextClientOrderId();
  // The hold follows the step: the old order's hold is swapped for the new one's.
  const previous = run.holds.get(old.clientOrderId);
  release(run, old.clientOrderId);
  const qty = old.qty ?? run.rest();
  if (!(await reserve(run, id, limit.times(qty), { type: "limit", qty, limitPrice: limit }))) {
    if (previous !== undefined) await reserve(run, old.clientOrderId, previous, old);
    return "not_replaced";
  }
  run.steps++;
  run.o.onSend?.(
    {
      clientOrderId: id,
      symbol: old.symbol,
      side: old.side,
      type: "limit",
      timeInForce: old.timeInForce,
      qty,
      limitPrice: limit,
      ...(run.policy.extendedHours === true ? { extendedHours: true } : {}),
    },
    "replace",
  );
  try {
    const created = await run.broker.replaceOrder!(
      old.id,
      { limitPrice: limit, clientOrderId: id },
      { signal: run.o.signal },
    );
    run.remember({ ...old, status: "replaced" }, run.via.get(old.id) ?? "submit");
    run.remember(created, "replace");
    run.o.onAccepted?.(created);
    return created;
  } catch (e) {
    if (run.o.signal?.aborted) throw e;
    const settled = await settleReplace(run, old, id, isBrokerError(e) && e.code !== "ambiguous");
    if (settled === "not_replaced") {
      release(run, id);
      if (previous !== undefined) await reserve(run, old.clientOrderId, previous, old);
    }
    return settled;
  }
}

/** What a failed replace did, read from the chain. */
async function settleReplace(
  run: LegRun,
  old: OrderSnapshot,
  id: string,
  refused: boolean,
): Promise<OrderSnapshot | "not_replaced" | undefined> {
  const now = await read(run, old);
  if (now === undefined) return unresolved(run, `${old.clientOrderId} could not be read after a replace`);
  run.remember(now, run.via.get(old.id) ?? "submit");
  if (refused || now.status !== "replaced") return "not_replaced";
  for (let i = 0; i < LOOKUP_ATTEMPTS; i++) {
    const created = await lookup(run, id);
    if (created !== null && created !== undefined) {
      run.remember(created, "replace");
      run.o.onAccepted?.(created);
      return created;
    }
    await run.sleep(D.pollMs);
  }
  return unresolved(run, `${old.clientOrderId} was replaced but ${id} was not found`);
}

/** Cancels an order and reads it until final (bounded); its fills count. */
async function cancelAndConfirm(run: LegRun, order: OrderSnapshot): Promise<OrderSnapshot> {
  try {
    await run.broker.cancelOrder(order.id, { signal: run.o.signal });
  } catch (e) {
    if (run.o.signal?.aborted) throw e;
    // not_cancelable: it is final already; ambiguous: the reads below tell.
  }
  const ended = await follow(run, order, FINAL_WAIT_MS);
  if (!isFinalBrokerStatus(ended.status)) {
    unresolved(run, `${order.clientOrderId} did not end after a cancel`);
    return ended;
  }
  if (ended.status === "filled") return ended;
  // Fills race cancels: read it again after a while, so a late fill is counted before the rest is sent.
  await run.sleep(LATE_FILL_SETTLE_MS);
  const settled = await read(run, ended);
  if (settled !== undefined) run.remember(settled, run.via.get(settled.id) ?? "submit");
  return settled ?? ended;
}

/** Submits one order of the leg; a lost reply is looked up by client order id, never re-sent under another. */
async function submit(run: LegRun, request: OrderRequest): Promise<OrderSnapshot | undefined> {
  const hold =
    request.type === "limit" && request.limitPrice !== undefined
      ? request.limitPrice.times(request.qty ?? ZERO)
      : (request.notional ?? (await marketHold(run, request.qty ?? ZERO)));
  if (!(await reserve(run, request.clientOrderId, hold, request))) return undefined;
  run.steps++;
  run.o.onSend?.(request, "submit");
  try {
    const order = await run.broker.submitOrder(request, { signal: run.o.signal });
    run.remember(order, "submit");
    run.o.onAccepted?.(order);
    return order;
  } catch (e) {
    if (run.o.signal?.aborted) throw e;
    if (isBrokerError(e) && e.code !== "ambiguous" && e.code !== "duplicate_client_order_id") {
      release(run, request.clientOrderId);
      run.rejected = true;
      run.notes.push(`${request.clientOrderId} refused: ${e.code}`);
      return undefined;
    }
    for (let i = 0; i < LOOKUP_ATTEMPTS; i++) {
      const found = await lookup(run, request.clientOrderId);
      if (found !== null && found !== undefined) {
        run.remember(found, "submit");
        run.o.onAccepted?.(found);
        return found;
      }
      await run.sleep(D.pollMs);
    }
    return unresolved(run, `${request.clientOrderId} may have been placed and was not found`);
  }
}

/** Reads an order until it is final or `ms` passed; the last read. */
async function follow(run: LegRun, order: OrderSnapshot, ms: number): Promise<OrderSnapshot> {
  const until = run.o.clock.now() + ms;
  let last = order;
  for (;;) {
    if (isFinalBrokerStatus(last.status)) break;
    const left = until - run.o.clock.now();
    if (left <= 0) break;
    await run.sleep(Math.min(D.pollMs, left));
    const now = await read(run, last);
    if (now !== undefined) {
      last = now;
      run.remember(now, run.via.get(now.id) ?? "submit");
    }
  }
  if (isFinalBrokerStatus(last.status)) release(run, last.clientOrderId);
  return last;
}

async function read(run: LegRun, order: OrderSnapshot): Promise<OrderSnapshot | undefined> {
  try {
    return (await run.broker.getOrder(order.id, { signal: run.o.signal })) ?? undefined;
  } catch (e) {
    if (run.o.signal?.aborted) throw e;
    return undefined;
  }
}

async function lookup(run: LegRun, id: string): Promise<OrderSnapshot | null | undefined> {
  try {
    return await run.broker.getOrderByClientOrderId(id, { signal: run.o.signal });
  } catch (e) {
    if (run.o.signal?.aborted) throw e;
    return undefined;
  }
}

async function reserve(run: LegRun, key: string, amount: Decimal, order: HeldOrder): Promise<boolean> {
  if (run.leg.side !== "buy" || run.o.funds === undefined) return true;
  const held: HeldOrder = {
    type: order.type,
    ...(order.qty !== undefined ? { qty: order.qty } : {}),
    ...(order.notional !== undefined ? { notional: order.notional } : {}),
    ...(order.limitPrice !== undefined ? { limitPrice: order.limitPrice } : {}),
  };
  if (await run.o.funds.reserve(key, amount, held)) {
    run.holds.set(key, amount);
    return true;
  }
  run.notes.push(`not enough buying power to hold ${amount.toFixed(2)} for ${key}`);
  return false;
}

function release(run: LegRun, key: string): void {
  run.holds.delete(key);
  run.o.funds?.release(key);
}

/** A market buy's hold: the ask (else the mid) × (1 + the market-buy buffer) × qty. */
async function marketHold(run: LegRun, qty: Decimal): Promise<Decimal> {
  if (run.leg.side !== "buy" || run.o.funds === undefined) return ZERO;
  const q = await readQuote(run);
  const price = typeof q === "string" ? run.arrivalMid : q.ask;
  const prices = price ?? (await run.broker.getLatestPrices([run.leg.symbol])).get(run.leg.symbol) ?? ZERO;
  return prices.times(qty).times(1 + D.marketBuyBuffer);
}

function base(
  run: LegRun,
  size: { qty: Decimal } | { notional: Decimal },
  type: "market" | "limit",
): OrderRequest {
  return {
    clientOrderId: run.nextClientOrderId(),
    symbol: run.leg.symbol,
    side: run.leg.side,
    type,
    timeInForce: "day",
    ...size,
    ...(run.policy.extendedHours === true ? { extendedHours: true } : {}),
  };
}

function unresolved(run: LegRun, why: string): undefined {
  run.unresolved = true;
  run.notes.push(why);
  return undefined;
}

/** Reads every order of the chain once more (late fills count), then the report. */
async function finish(run: LegRun): Promise<LegReport> {
  for (const order of [...run.orders]) {
    if (order.id === run.held) continue;
    const now = await read(run, order);
    if (now !== undefined) run.remember(now, run.via.get(now.id) ?? "submit");
    if (now !== undefined && isFinalBrokerStatus(now.status)) release(run, now.clientOrderId);
  }
  const filled = run.filled();
  const complete =
    run.qty !== undefined
      ? filled.gte(run.qty)
      : run.orders.length > 0 && run.orders.every((o) => o.status === "filled");
  const state: LegState = complete
    ? "filled"
    : run.unresolved
      ? "unresolved"
      : run.held !== undefined
        ? "held"
        : run.rejected && filled.isZero()
          ? "rejected"
          : run.orders.length === 0
            ? "skipped"
            : "canceled";
  return report(run, state);
}

function report(run: LegRun, state: LegState): LegReport {
  const filledQty = run.filled();
  const value = run.orders.reduce((s, x) => s.plus(x.filledQty.times(x.filledAvgPrice ?? ZERO)), ZERO);
  const avgPrice = filledQty.isZero() ? undefined : value.div(filledQty);
  const slip =
    run.arrivalMid === undefined
      ? { bps: 0, dollars: ZERO }
      : slippageOf(run.leg.side, run.arrivalMid, avgPrice, filledQty);
  return {
    symbol: run.leg.symbol,
    side: run.leg.side,
    requestedQty: run.qty,
    requestedNotional: run.leg.notional,
    state,
    filledQty,
    avgPrice,
    arrivalMid: run.arrivalMid,
    slippageBps: slip.bps,
    slippageDollars: slip.dollars,
    steps: run.steps,
    orders: run.orders.map((x) => ({
      id: x.id,
      clientOrderId: x.clientOrderId,
      type: x.type,
      limitPrice: x.limitPrice,
      status: x.status,
      filledQty: x.filledQty,
      filledAvgPrice: x.filledAvgPrice,
      via: run.via.get(x.id) ?? "submit",
      snapshot: x,
    })),
    notes: run.notes,
    startedAt: run.startedAt,
    endedAt: run.o.clock.now(),
    nextGeneration: run.generation,
  };
}
