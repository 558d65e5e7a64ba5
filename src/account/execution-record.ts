import type { BrokerOrderStatus, OrderSide, OrderSnapshot } from "../broker/broker-port.js";
import { isFinalBrokerStatus } from "../broker/broker-port.js";
import { type Decimal, ZERO } from "../core/decimal.js";

/**
 * Where an order in the record came from: `own` (placed or followed by this process), or
 * `other` (seen in the account's order history: another process, another bot, a person).
 */
export type RecordedOrigin = "own" | "other";

/** One order the record knows, with its cumulative fills. */
export interface RecordedOrder {
  /** The broker's id. */
  readonly orderId: string;
  /** The client order id. */
  readonly clientOrderId: string;
  /** The symbol. */
  readonly symbol: string;
  /** Buy or sell. */
  readonly side: OrderSide;
  /** Who placed it, as far as the record knows. */
  readonly origin: RecordedOrigin;
  /** Shares filled (cumulative, never decreasing). */
  readonly filledQty: Decimal;
  /** Σ fill quantity × price (cumulative). */
  readonly filledValue: Decimal;
  /** Whether the broker said it is final. */
  readonly final: boolean;
  /** The broker's status in the latest snapshot (a final one is never replaced by an open one). */
  readonly status: BrokerOrderStatus;
  /** The local time by which its last known fill had certainly happened (ms). */
  readonly lastFillBy: number | undefined;
  /** The latest snapshot of it the record saw (a final one is never replaced by an open one). */
  readonly snapshot: OrderSnapshot;
}

/** A fill the record learned: the growth of one order's cumulative filled quantity. */
export interface RecordedFill {
  /** Position in the record's sequence of fills, from 1. */
  readonly seq: number;
  /** The broker's order id. */
  readonly orderId: string;
  /** The symbol. */
  readonly symbol: string;
  /** Shares bought (> 0) or sold (< 0). */
  readonly qty: Decimal;
  /** Cash moved: − for a buy, + for a sell. */
  readonly cash: Decimal;
  /** The local time by which it had certainly happened (ms). */
  readonly by: number;
}

/** A read trusted as reflecting every fill up to `seq`. */
interface Baseline<T> {
  readonly value: T;
  readonly seq: number;
}

/** Options of {@link ExecutionRecord}. */
export interface ExecutionRecordOptions {
  /**
   * How far the broker's clock may be behind ours (ms): a fill stamped by the broker at `t`
   * is taken to have happened by our `t + clockSkewMs`. @defaultValue 1000
   */
  clockSkewMs?: number;
}

/** The defaults of {@link ExecutionRecord}. */
export const EXECUTION_RECORD_DEFAULTS = { clockSkewMs: 1_000 } as const;

/**
 * What this process knows of one account's orders and fills: the record a position or
 * account read is checked against before any decision is taken from it.
 *
 * @remarks
 * Orders are the truth: every order this process placed, followed or adopted, and every
 * order seen in the account's order history, with its cumulative fills. Each time an
 * order's filled quantity grows, the record appends a {@link RecordedFill} stamped with the
 * local time by which it had certainly happened: the earlier of when we learned it and the
 * broker's own time for it plus the clock-skew margin. Pure: times are passed in.
 *
 * A read is compared against a baseline (a read trusted earlier) plus the fills after it
 * (`expectedQty`, `expectedCash`), or judged by time (`lastFillBy`): see
 * `docs/consistency.md`.
 *
 * @example
 * ```ts
 * const record = new ExecutionRecord();
 * record.observe(orderSnapshot, clock.now(), "own");
 * record.lastFillBy("AAA"); // when its last known fill had happened
 * ```
 */
export class ExecutionRecord {
  private readonly skewMs: number;
  private readonly orders = new Map<string, RecordedOrder>();
  private readonly byClientId = new Map<string, string>();
  private readonly fills: RecordedFill[] = [];
  private readonly lastBySymbol = new Map<string, number>();
  private lastAny = Number.NEGATIVE_INFINITY;
  private readonly positionBase = new Map<string, Baseline<Decimal>>();
  private cashBase: Baseline<Decimal> | undefined;
  private openListedAt: number | undefined;

  /** @param options - the clock-skew margin */
  constructor(options: ExecutionRecordOptions = {}) {
    this.skewMs = options.clockSkewMs ?? EXECUTION_RECORD_DEFAULTS.clockSkewMs;
  }

  /** The sequence number of the last fill learned (0 before any). */
  get seq(): number {
    return this.fills.length;
  }

  /**
   * Learns an order's state: records it, and a fill when its cumulative filled quantity grew.
   *
   * @param order - the broker's snapshot (from a reply, a read or the stream)
   * @param learnedAt - the local time it was learned (ms)
   * @param origin - `own` for this process's orders; an order once `own` stays so
   * @returns the new fill, or undefined when nothing more had filled
   */
  observe(order: OrderSnapshot, learnedAt: number, origin: RecordedOrigin = "own"): RecordedFill | undefined {
    const known = this.orders.get(order.id);
    const before = known?.filledQty ?? ZERO;
    const grew = order.filledQty.gt(before);
    const filledValue =
      grew && order.filledAvgPrice !== undefined
        ? order.filledQty.times(order.filledAvgPrice)
        : (known?.filledValue ?? ZERO);
    const by = Math.min(learnedAt, order.updatedAt.getTime() + this.skewMs);
    const final = (known?.final ?? false) || isFinalBrokerStatus(order.status);
    // A working status after a final one is a stale snapshot; a final status may change (a
    // fill after a cancel turns `canceled` into `filled`).
    const status = known?.final === true && !isFinalBrokerStatus(order.status) ? known.status : order.status;
    this.byClientId.set(order.clientOrderId, order.id);
    this.orders.set(order.id, {
      orderId: order.id,
      clientOrderId: order.clientOrderId,
      symbol: order.symbol,
      side: order.side,
      origin: known?.origin === "own" ? "own" : origin,
      filledQty: grew ? order.filledQty : before,
      filledValue,
      final,
      status,
      snapshot: known?.final === true && !isFinalBrokerStatus(order.status) ? known.snapshot : order,
      lastFillBy: grew ? by : known?.lastFillBy,
    });
    if (!grew) return undefined;
    const qty = order.filledQty.minus(before);
    const value = filledValue.minus(known?.filledValue ?? ZERO);
    const fill: RecordedFill = {
      seq: this.fills.length + 1,
      orderId: order.id,
      symbol: order.symbol,
      qty: order.side === "buy" ? qty : qty.negated(),
      cash: order.side === "buy" ? value.negated() : value,
      by,
    };
    this.fills.push(fill);
    this.lastBySymbol.set(order.symbol, Math.max(this.lastBySymbol.get(order.symbol) ?? by, by));
    this.lastAny = Math.max(this.lastAny, by);
    return fill;
  }

  /**
   * The local time by which the last known fill on `symbol` (or on the account) had happened.
   *
   * @param symbol - a symbol; omitted: any symbol
   * @returns ms, or -Infinity when no fill is known
   */
  lastFillBy(symbol?: string): number {
    if (symbol === undefined) return this.lastAny;
    return this.lastBySymbol.get(symbol) ?? Number.NEGATIVE_INFINITY;
  }

  /**
   * One order as the record knows it.
   *
   * @param orderId - the broker's id
   * @returns the order, or undefined
   */
  order(orderId: string): RecordedOrder | undefined {
    return this.orders.get(orderId);
  }

  /**
   * One order as the record knows it, by its client order id.
   *
   * @param clientOrderId - the client order id
   * @returns the order, or undefined
   */
  orderByClientId(clientOrderId: string): RecordedOrder | undefined {
    const id = this.byClientId.get(clientOrderId);
    return id === undefined ? undefined : this.orders.get(id);
  }

  /**
   * Notes that every order open on the account when a list was sent has been learned (a read
   * of the open orders, or an order history reaching back far enough, see
   * {@link openOrdersCoverFrom}).
   *
   * @param sentAt - the local time the list was sent (ms)
   */
  noteOpenOrdersListed(sentAt: number): void {
    this.openListedAt = Math.max(this.openListedAt ?? Number.NEGATIVE_INFINITY, sentAt);
  }

  /**
   * How far back (broker time, ms) an order history must reach for the open orders in it to
   * be every open order of the account: back past the last complete list of open orders (an
   * order open now was open then, and the record knows it, or was submitted since) and past
   * the submission of every order the record does not know to be final, each with the
   * clock-skew margin.
   *
   * @returns the time, or undefined when no open orders were ever listed or an order the
   *   record may still hold open has no submission time
   */
  openOrdersCoverFrom(): number | undefined {
    if (this.openListedAt === undefined) return undefined;
    let from = this.openListedAt - this.skewMs;
    for (const o of this.orders.values()) {
      if (o.final) continue;
      const at = o.snapshot.createdAt?.getTime();
      if (at === undefined) return undefined;
      from = Math.min(from, at - this.skewMs);
    }
    return from;
  }

  /**
   * The orders the record knows on a symbol (or all), in the order first seen.
   *
   * @param symbol - a symbol; omitted: all
   * @returns the orders
   */
  ordersOn(symbol?: string): RecordedOrder[] {
    const all = [...this.orders.values()];
    return symbol === undefined ? all : all.filter((o) => o.symbol === symbol);
  }

  /**
   * Shares the known fills after `sinceSeq` moved a symbol by (buys +, sells −).
   *
   * @param symbol - the symbol
   * @param sinceSeq - fills with a greater sequence number count
   * @param only - count only the fills of orders of this origin (`own`: this process's)
   * @returns signed shares
   */
  netShares(symbol: string, sinceSeq: number, only?: RecordedOrigin): Decimal {
    let sum = ZERO;
    for (let i = sinceSeq; i < this.fills.length; i++) {
      const f = this.fills[i];
      if (f === undefined || f.symbol !== symbol) continue;
      if (only !== undefined && this.orders.get(f.orderId)?.origin !== only) continue;
      sum = sum.plus(f.qty);
    }
    return sum;
  }

  /**
   * Cash the known fills after `sinceSeq` moved (sells +, buys −).
   *
   * @param sinceSeq - fills with a greater sequence number count
   * @returns signed dollars
   */
  netCash(sinceSeq: number): Decimal {
    let sum = ZERO;
    for (let i = sinceSeq; i < this.fills.length; i++) sum = sum.plus(this.fills[i]?.cash ?? ZERO);
    return sum;
  }

  /**
   * Fills learned after `sinceSeq`.
   *
   * @param sinceSeq - a sequence number
   * @returns the fills, oldest first
   */
  fillsSince(sinceSeq: number): readonly RecordedFill[] {
    return this.fills.slice(sinceSeq);
  }

  /**
   * What a settled position read of `symbol` must show: its baseline plus the known fills
   * since, or undefined when no read of it was trusted yet.
   *
   * @param symbol - the symbol
   * @param only - count only the fills of orders of this origin: `own` gives what this
   *   process's own orders imply (another party's trade since the baseline is then drift)
   * @returns shares, or undefined
   */
  expectedQty(symbol: string, only?: RecordedOrigin): Decimal | undefined {
    const b = this.positionBase.get(symbol);
    return b === undefined ? undefined : b.value.plus(this.netShares(symbol, b.seq, only));
  }

  /**
   * What a settled account read's cash must show, or undefined before any trusted read.
   *
   * @returns dollars, or undefined
   */
  expectedCash(): Decimal | undefined {
    const b = this.cashBase;
    return b === undefined ? undefined : b.value.plus(this.netCash(b.seq));
  }

  /**
   * Fills since the cash baseline: their count bounds the rounding of `expectedCash`.
   *
   * @returns how many fills `expectedCash` sums
   */
  fillsSinceCashBaseline(): number {
    return this.fills.length - (this.cashBase?.seq ?? this.fills.length);
  }

  /**
   * Trusts a position read: it reflects every fill known now.
   *
   * @param symbol - the symbol
   * @param qty - the shares the read showed (0 when flat)
   */
  trustPosition(symbol: string, qty: Decimal): void {
    this.positionBase.set(symbol, { value: qty, seq: this.fills.length });
  }

  /**
   * Trusts an account read's cash: it reflects every fill known now.
   *
   * @param cash - the cash the read showed
   */
  trustCash(cash: Decimal): void {
    this.cashBase = { value: cash, seq: this.fills.length };
  }
}
