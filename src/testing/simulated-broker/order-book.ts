import {
  type BrokerOrderStatus,
  isFinalBrokerStatus,
  type ListOrdersQuery,
  type OrderRequest,
  type OrderSide,
  type OrderSnapshot,
  type OrderType,
  type TimeInForce,
} from "../../broker/broker-port.js";
import { Decimal, ZERO } from "../../core/decimal.js";
import type { Random } from "../../core/random.js";
import { buyHold } from "./venue-rules.js";

/** An order's size: shares or dollars, exactly one (the order schema makes sure). */
export type OrderSize =
  | { readonly qty: Decimal; readonly notional: undefined }
  | { readonly qty: undefined; readonly notional: Decimal };

/** An order as the venue keeps it. */
export type SimOrder = OrderSize & {
  readonly id: string;
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: OrderSide;
  readonly type: OrderType;
  readonly timeInForce: TimeInForce;
  readonly limitPrice: Decimal | undefined;
  readonly extendedHours: boolean;
  /** Shares filled so far. */
  filledQty: Decimal;
  /** Dollars filled so far (what `filledAvgPrice` and a notional order's rest come from). */
  filledValue: Decimal;
  status: BrokerOrderStatus;
  readonly createdAt: number;
  updatedAt: number;
  rejectReason: string | undefined;
  /** Known to the broker (false for an order refused at submit). */
  readonly live: boolean;
  /** Lookups find it from this clock time on (a `not_found_lag` fault sets it later). */
  visibleAt: number;
  /** Shares a sell holds against the position. */
  sellReserve: Decimal;
  /** Fills left in a partial-fill plan; undefined before the first fill. */
  partsLeft: number | undefined;
  /** Cancels the scheduled next fill, when one is scheduled. */
  cancelFill: (() => void) | undefined;
  /** Set by a `reject_after_accept` fault: the venue rejects the order after acknowledging it. */
  pendingReject: string | undefined;
};

/**
 * The ids the venue makes (order ids and execution ids), UUID-shaped, from one seeded source:
 * orders and fills draw from it in the order they happen.
 */
export class IdSource {
  /** @param random - the seeded source */
  constructor(private readonly random: Random) {}

  /** @returns the next id */
  next(): string {
    let h = "";
    for (let i = 0; i < 4; i++)
      h += Math.floor(this.random() * 4294967296)
        .toString(16)
        .padStart(8, "0");
    const variant = "89ab"[Number.parseInt(h[16] ?? "0", 16) & 3];
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

/** Whether an order still works: known to the broker and not final. */
export function isOpen(o: SimOrder): boolean {
  return o.live && !isFinalBrokerStatus(o.status);
}

/**
 * The size of a request.
 *
 * @param request - a request through the order schema
 * @returns its qty or its notional
 * @throws Error when it has neither (the order schema refuses such a request first)
 */
export function sizeOf(request: Pick<OrderRequest, "qty" | "notional">): OrderSize {
  if (request.qty !== undefined) return { qty: request.qty, notional: undefined };
  if (request.notional !== undefined) return { qty: undefined, notional: request.notional };
  throw new Error("[ordersafe] simulated broker: an order needs a qty or a notional");
}

/**
 * What the broker reports of an order.
 *
 * @param o - the order
 * @returns its snapshot (times as Dates, the average fill price to 9 decimals)
 */
export function snapshotOf(o: SimOrder): OrderSnapshot {
  const s: OrderSnapshot = {
    id: o.id,
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: o.side,
    type: o.type,
    timeInForce: o.timeInForce,
    filledQty: o.filledQty,
    status: o.status,
    createdAt: new Date(o.createdAt),
    updatedAt: new Date(o.updatedAt),
  };
  if (o.qty !== undefined) s.qty = o.qty;
  if (o.notional !== undefined) s.notional = o.notional;
  if (o.limitPrice !== undefined) s.limitPrice = o.limitPrice;
  if (o.filledQty.gt(0)) s.filledAvgPrice = o.filledValue.div(o.filledQty).toDecimalPlaces(9);
  if (o.rejectReason !== undefined) s.rejectReason = o.rejectReason;
  return s;
}

/**
 * Every order of the account: refused ones (kept for inspection, unknown to lookups), and the
 * live ones by id and client order id, with the open ones that hold shares and cash.
 *
 * @remarks The order-history read (`history`) lists the live orders only: an order refused
 * at submit was never made at the broker. The place for replace chains too (an order
 * replaced by another keeps its id here).
 */
export class OrderBook {
  private readonly all: SimOrder[] = [];
  /** The orders not final yet, in submit order (what holds cash and shares). */
  private readonly open = new Set<SimOrder>();
  private readonly byId = new Map<string, SimOrder>();
  private readonly byClientId = new Map<string, SimOrder>();
  private readonly usedClientIds = new Set<string>();
  /** Orders placed elsewhere (another app, another process): in the history, not in `list()`. */
  private readonly elsewhere: SimOrder[] = [];
  private closeCounter = 0;
  private replaceCounter = 0;

  /** @param ids - draws every order id */
  constructor(private readonly ids: IdSource) {}

  /**
   * Makes an order from a request (drawing its id); it is in the book once kept or added.
   *
   * @param request - the request, through the order schema
   * @param status - its first status
   * @param live - false for an order refused at submit
   * @param now - the clock time
   * @returns the order
   */
  create(request: OrderRequest, status: BrokerOrderStatus, live: boolean, now: number): SimOrder {
    return {
      id: this.ids.next(),
      clientOrderId: request.clientOrderId,
      symbol: request.symbol,
      side: request.side,
      type: request.type,
      timeInForce: request.timeInForce,
      ...sizeOf(request),
      limitPrice: request.limitPrice,
      extendedHours: request.extendedHours === true,
      filledQty: ZERO,
      filledValue: ZERO,
      status,
      createdAt: now,
      updatedAt: now,
      rejectReason: undefined,
      live,
      visibleAt: now,
      sellReserve: ZERO,
      partsLeft: undefined,
      cancelFill: undefined,
      pendingReject: undefined,
    };
  }

  /** Keeps an order refused at submit (listed by `orders()`, found by no lookup). */
  keepRefused(o: SimOrder): void {
    this.all.push(o);
  }

  /** Adds an order the venue took: open, found by its ids, its client order id used forever. */
  add(o: SimOrder): void {
    this.all.push(o);
    this.open.add(o);
    this.byId.set(o.id, o);
    this.byClientId.set(o.clientOrderId, o);
    this.usedClientIds.add(o.clientOrderId);
  }

  /**
   * Records a trade made elsewhere as the filled market order another app would have placed:
   * found by its ids and listed by the order history, never by `list()` (not ours).
   *
   * @param trade - symbol, signed shares (buy +), price, and the clock time
   * @returns the order
   */
  addElsewhere(trade: { symbol: string; qtyDelta: Decimal; price: Decimal; now: number }): SimOrder {
    const n = this.elsewhere.length + 1;
    const qty = trade.qtyDelta.abs();
    const o: SimOrder = {
      id: `elsewhere-${n}`,
      clientOrderId: `elsewhere-${n}`,
      symbol: trade.symbol,
      side: trade.qtyDelta.isNegative() ? "sell" : "buy",
      type: "market",
      timeInForce: "day",
      qty,
      notional: undefined,
      limitPrice: undefined,
      extendedHours: false,
      filledQty: qty,
      filledValue: qty.times(trade.price),
      status: "filled",
      createdAt: trade.now,
      updatedAt: trade.now,
      rejectReason: undefined,
      live: true,
      visibleAt: trade.now,
      sellReserve: ZERO,
      partsLeft: undefined,
      cancelFill: undefined,
      pendingReject: undefined,
    };
    this.elsewhere.push(o);
    this.byId.set(o.id, o);
    this.byClientId.set(o.clientOrderId, o);
    this.usedClientIds.add(o.clientOrderId);
    return o;
  }

  /** An order reached a final status: it holds nothing any more. */
  ended(o: SimOrder): void {
    this.open.delete(o);
  }

  /** @returns the live order with this id */
  get(id: string): SimOrder | undefined {
    return this.byId.get(id);
  }

  /** @returns the live order with this client order id */
  getByClientOrderId(clientOrderId: string): SimOrder | undefined {
    return this.byClientId.get(clientOrderId);
  }

  /** @returns whether the client order id was ever used by a live order */
  isUsed(clientOrderId: string): boolean {
    return this.usedClientIds.has(clientOrderId);
  }

  /** @returns every order, refused ones too, in submit order */
  list(): readonly SimOrder[] {
    return this.all;
  }

  /**
   * The orders an order-history read (`listOrders`) answers with.
   *
   * @param query - the parsed query: `status` (default open), `after` / `until` (exclusive,
   *   on the submission time), `symbols`, `limit`
   * @param visible - whether lookups see an order yet (a fresh one may be hidden for a while)
   * @returns the live, visible matches, newest first by submission time (of two submitted in
   *   the same ms, the later first), at most `limit`
   */
  history(query: ListOrdersQuery, visible: (o: SimOrder) => boolean): SimOrder[] {
    const status = query.status ?? "open";
    const after = query.after?.getTime();
    const until = query.until?.getTime();
    const symbols = query.symbols === undefined ? undefined : new Set(query.symbols);
    const out: SimOrder[] = [];
    const all = this.elsewhere.length === 0 ? this.all : [...this.all, ...this.elsewhere];
    for (let i = all.length - 1; i >= 0; i--) {
      const o = all[i];
      if (o === undefined || !o.live || !visible(o)) continue;
      const final = isFinalBrokerStatus(o.status);
      if ((status === "open" && final) || (status === "closed" && !final)) continue;
      if (after !== undefined && o.createdAt <= after) continue;
      if (until !== undefined && o.createdAt >= until) continue;
      if (symbols !== undefined && !symbols.has(o.symbol)) continue;
      out.push(o);
    }
    // Submit order is time order on a clock that never goes back; sort anyway (stable: ties keep it).
    out.sort((a, b) => b.createdAt - a.createdAt);
    return query.limit === undefined ? out : out.slice(0, query.limit);
  }

  /** @returns a copy of the open orders, in submit order */
  openOrders(): SimOrder[] {
    return [...this.open];
  }

  /** @returns the shares of `symbol` that open sells hold (but `except`'s) */
  sellHeld(symbol: string, except?: SimOrder): Decimal {
    let total = ZERO;
    for (const o of this.open) {
      if (!isOpen(o) || o.side !== "sell" || o.symbol !== symbol || o === except) continue;
      total = total.plus(Decimal.max(ZERO, o.sellReserve.minus(o.filledQty)));
    }
    return total;
  }

  /**
   * The cash open buys hold: a notional buy its unfilled dollars, a quantity buy its unfilled
   * shares at its limit or at the price plus the market-buy buffer.
   *
   * @param priceOf - the last price of a symbol
   * @param marketBuyBuffer - the extra fraction a market buy holds
   * @param except - an order left out (the one a replace ends)
   * @returns the total hold
   */
  buyHold(
    priceOf: (symbol: string) => Decimal | undefined,
    marketBuyBuffer: Decimal,
    except?: SimOrder,
  ): Decimal {
    let total = ZERO;
    for (const o of this.open) {
      if (!isOpen(o) || o.side !== "buy" || o === except) continue;
      if (o.notional !== undefined) total = total.plus(Decimal.max(ZERO, o.notional.minus(o.filledValue)));
      else total = total.plus(buyHold(o, o.qty.minus(o.filledQty), priceOf(o.symbol), marketBuyBuffer));
    }
    return total;
  }

  /**
   * A client order id for the new order of a replace that names none, never used before.
   *
   * @param seed - the broker's seed, part of the id
   * @returns the id
   */
  replaceClientOrderId(seed: number): string {
    let clientOrderId: string;
    do {
      clientOrderId = `sim-replace-${seed}-${++this.replaceCounter}`;
    } while (this.usedClientIds.has(clientOrderId));
    return clientOrderId;
  }

  /**
   * A client order id for a `closePosition` order, never used before.
   *
   * @param seed - the broker's seed, part of the id
   * @returns the id
   */
  closeClientOrderId(seed: number): string {
    let clientOrderId: string;
    do {
      clientOrderId = `sim-close-${seed}-${++this.closeCounter}`;
    } while (this.usedClientIds.has(clientOrderId));
    return clientOrderId;
  }
}
