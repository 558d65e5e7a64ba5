import type { Decimal } from "../core/decimal.js";
import type {
  BrokerOrderStatus,
  OrderListStatus,
  OrderSide,
  OrderType,
  OrderUpdateEvent,
  StreamStatus,
  TimeInForce,
} from "./vocabulary.js";

// The list of calls is derived from the method table, which sits with the schemas it checks
// replies with.
export { BROKER_METHODS } from "./schemas.js";
export {
  BROKER_CALL_KINDS,
  BROKER_ORDER_STATUSES,
  type BrokerCallKind,
  type BrokerOrderStatus,
  FINAL_BROKER_STATUSES,
  isFinalBrokerStatus,
  ORDER_LIST_STATUSES,
  ORDER_SIDES,
  ORDER_TYPES,
  ORDER_UPDATE_EVENTS,
  type OrderListStatus,
  type OrderSide,
  type OrderType,
  type OrderUpdateEvent,
  STREAM_STATUSES,
  type StreamStatus,
  TIMES_IN_FORCE,
  type TimeInForce,
} from "./vocabulary.js";

/**
 * What a port can do. The library adapts: without `notionalOrders` buys are sized in
 * quantity; without `orderUpdates` orders are polled; without `closePosition` dust is left.
 */
export interface BrokerCapabilities {
  /** Fractional quantities are accepted for fractionable assets. */
  fractional: boolean;
  /** Orders may be sized by notional (dollar amount) instead of quantity. */
  notionalOrders: boolean;
  /** `closePosition(symbol)` is supported. */
  closePosition: boolean;
  /** `subscribeOrderUpdates` pushes order updates. */
  orderUpdates: boolean;
  /**
   * `listOrders` reads the account's order history (open and final orders, whoever placed
   * them). Optional: absent means false. The wrappers of a port (`checkBroker`, call
   * counters) claim it only when the port both declares it and has `listOrders`.
   */
  orderHistory?: boolean;
  /**
   * The port calls {@link CallOptions.onRequest} once for every request it sends, so a
   * caller can count the requests (not the calls) it costs. Optional: absent means false.
   */
  requestReports?: boolean;
  /**
   * `getLatestQuotes` reads the best bid and ask. Optional: absent means false; claimed by the
   * wrappers only when the port declares it and has the member.
   */
  quotes?: boolean;
  /**
   * `replaceOrder` changes a working order (a new order replaces it). Optional: absent means
   * false; claimed by the wrappers only when the port declares it and has the member.
   */
  replace?: boolean;
}

/**
 * The best bid and ask of a symbol, as the broker's market data last saw them.
 *
 * @remarks
 * - A side at 0 means the side is missing (Alpaca sends `bp: 0` when there is no bid).
 * - A quote may be crossed (`bid > ask`) or stale (`asOf` long ago): the schema lets both
 *   through, because markets show both; a caller judges whether the quote is usable.
 *
 * @example
 * ```ts
 * const quotes = await broker.getLatestQuotes?.(["SPY"]);
 * const q = quotes?.get("SPY"); // { bid: 499.98, ask: 500.02, asOf }
 * ```
 */
export interface Quote {
  /** The best bid (0: no bid). */
  bid: Decimal;
  /** The best ask (0: no ask). */
  ask: Decimal;
  /** Shares bid at `bid`, when the broker says. */
  bidSize?: Decimal;
  /** Shares offered at `ask`, when the broker says. */
  askSize?: Decimal;
  /** When the quote was made (the market data's time, not the read's). */
  asOf: Date;
}

/**
 * What {@link BrokerPort.replaceOrder} changes on a working order: at least one of the
 * fields. Checked by `ReplaceOrderChangesSchema` before any call.
 *
 * @remarks As Alpaca's `PATCH /v2/orders/{id}`: the broker makes a new order (a new id,
 * `clientOrderId` when given) with the changes, and the old order ends `replaced`. Fills
 * of the old order before the replace took effect stay with it; `qty` is the new order's
 * whole quantity.
 *
 * @example
 * ```ts
 * const changes: ReplaceOrderChanges = { limitPrice: new Decimal("100.05"), clientOrderId: "os-run-SPY-b-1" };
 * ```
 */
export interface ReplaceOrderChanges {
  /** The new order's quantity (shares). */
  qty?: Decimal;
  /** The new limit price. */
  limitPrice?: Decimal;
  /** The new order's client order id (unique forever, like any). */
  clientOrderId?: string;
}

/**
 * What {@link BrokerPort.listOrders} lists. Checked by `ListOrdersQuerySchema` before any
 * call (an unknown key, an empty `symbols`, a `limit` that is not a positive integer: a
 * `ValidationError`).
 *
 * @remarks
 * - Without `status` it lists the open orders (as Alpaca does).
 * - Results come newest first by submission time.
 * - `after` and `until` compare submission times and are exclusive.
 * - `symbols` keeps the orders on those symbols.
 * - `limit` caps how many orders come back (the newest matches): a port pages internally
 *   until it has `limit` orders or there are no more; without `limit`, every match.
 *
 * @example
 * ```ts
 * const query: ListOrdersQuery = { status: "closed", after: new Date(clock.now() - 60_000), symbols: ["TECL"] };
 * const recent = await broker.listOrders?.(query);
 * ```
 */
export interface ListOrdersQuery {
  /** Open orders, final ones, or both. @defaultValue "open" */
  status?: OrderListStatus;
  /** Only orders submitted after this time (exclusive). */
  after?: Date;
  /** Only orders submitted before this time (exclusive). */
  until?: Date;
  /** Only orders on these symbols (at least one). */
  symbols?: readonly string[];
  /** At most this many orders (the newest); a positive integer. @defaultValue every match */
  limit?: number;
}

/** Options every port call takes. */
export interface CallOptions {
  /**
   * Aborts the call. Aborted before the call: it throws the abort reason and does nothing.
   * Aborted while a write is in flight: `BrokerError("ambiguous")`. While a read is in
   * flight: the abort reason.
   */
  signal?: AbortSignal;
  /**
   * Told once for every request the port sends to the broker for this call (each page of a
   * paged read, each symbol of a per-symbol read, each retry of its own), as the request
   * leaves; not told of a call that sends nothing. A port that calls it declares
   * `capabilities.requestReports`. A callback that throws changes nothing.
   */
  onRequest?: (info: BrokerRequestInfo) => void;
}

/**
 * What {@link CallOptions.onRequest} is told of one request.
 *
 * @example
 * ```ts
 * let requests = 0;
 * await broker.getAssets(["SPY", "QQQ"], { onRequest: () => requests++ }); // 2 through Alpaca
 * ```
 */
export interface BrokerRequestInfo {
  /** The port call the request belongs to. */
  readonly method: BrokerMethod;
}

/** The account, as the broker sees it at `asOf`. */
export interface AccountSnapshot {
  /** Settled and unsettled cash. */
  cash: Decimal;
  /** The broker's buying power (may include margin). */
  buyingPower: Decimal;
  /** Buying power without margin, when the broker reports it. */
  nonMarginableBuyingPower?: Decimal;
  /** Cash plus the market value of positions. */
  equity: Decimal;
  /** ISO currency code (`"USD"`). */
  currency: string;
  /** Whether the broker refuses all trading on this account. */
  tradingBlocked: boolean;
  /** When the port read this state from the broker. */
  asOf: Date;
}

/** One position. Zero positions are omitted by `getPositions`. */
export interface PositionSnapshot {
  /** The symbol. */
  symbol: string;
  /** Shares held; negative for a short. */
  qty: Decimal;
  /** Shares not held by open sell orders: at most `qty` (for a long), never negative. */
  qtyAvailable: Decimal;
  /** Market value at `currentPrice`. */
  marketValue?: Decimal;
  /** Average entry price. */
  avgEntryPrice?: Decimal;
  /** The latest price the broker used. */
  currentPrice?: Decimal;
}

/** How an asset may be traded. */
export interface AssetRules {
  /** The symbol. */
  symbol: string;
  /** Whether orders are accepted at all. */
  tradable: boolean;
  /** Whether fractional quantities and notional orders are accepted. */
  fractionable: boolean;
  /** The quantity step: 1 for whole shares, 0.000000001 for fractional. */
  qtyIncrement: Decimal;
  /** The smallest order notional the broker accepts, when it has one (Alpaca: 1). */
  minNotional?: Decimal;
}

/** The market's trading hours. */
export interface MarketClock {
  /** Whether the regular session is open now. */
  isOpen: boolean;
  /** The next open. */
  nextOpen: Date;
  /** The next close. */
  nextClose: Date;
  /** When the port read this. */
  asOf: Date;
}

/** An order to place. Exactly one of `qty` and `notional`. */
export interface OrderRequest {
  /** The caller's id for the order, unique forever at the broker. */
  clientOrderId: string;
  /** The symbol. */
  symbol: string;
  /** Buy or sell. */
  side: OrderSide;
  /** Market or limit. */
  type: OrderType;
  /** How long the order works. */
  timeInForce: TimeInForce;
  /** Shares. */
  qty?: Decimal;
  /** Dollars (market orders on fractionable assets only). */
  notional?: Decimal;
  /** For limit orders. */
  limitPrice?: Decimal;
  /** Allow execution outside regular hours (limit day orders). */
  extendedHours?: boolean;
}

/** An order as the broker sees it. */
export interface OrderSnapshot {
  /** The broker's id. */
  id: string;
  /** The caller's id. */
  clientOrderId: string;
  /** The symbol. */
  symbol: string;
  /** Buy or sell. */
  side: OrderSide;
  /** Market or limit. */
  type: OrderType;
  /** How long it works. */
  timeInForce: TimeInForce;
  /** Ordered shares; absent for a notional order. */
  qty?: Decimal;
  /** Ordered dollars, for a notional order. */
  notional?: Decimal;
  /** Shares filled so far (cumulative, never decreasing). */
  filledQty: Decimal;
  /** Average price of the fills. */
  filledAvgPrice?: Decimal;
  /** The limit price. */
  limitPrice?: Decimal;
  /** The broker's status. */
  status: BrokerOrderStatus;
  /** When the broker created it. */
  createdAt?: Date;
  /** When it last changed. */
  updatedAt: Date;
  /** Why the broker rejected it, for status `rejected`. */
  rejectReason?: string;
}

/** This fill's own quantity and price (not cumulative). */
export interface OrderFill {
  /** Shares in this fill. */
  qty: Decimal;
  /** Price of this fill. */
  price: Decimal;
  /** The broker's execution id, when it has one: fills are deduplicated by it. */
  executionId?: string;
}

/** A change to an order, pushed by the broker. */
export interface OrderUpdate {
  /** What happened. */
  event: OrderUpdateEvent;
  /** The order after the change. */
  order: OrderSnapshot;
  /** When it happened. */
  at: Date;
  /** For `fill` and `partial_fill`: this fill. */
  fill?: OrderFill;
}

/** Receives order updates. */
export interface OrderUpdateListener {
  /** Called for every order update, in the order the broker sent them. */
  onUpdate(update: OrderUpdate): void;
  /** Called when the connection changes; `connected` once updates will be delivered. */
  onStatus?(status: StreamStatus): void;
}

/** A subscription; `close()` stops it. */
export interface Subscription {
  /** Stops delivering updates and releases the connection. Idempotent. */
  close(): void;
}

/**
 * The name of a `BrokerPort` call: every method but `subscribeOrderUpdates`. These are the
 * calls the wrappers of a port (the reply checker, call counters) forward and the simulated
 * broker counts and can fault; `BROKER_METHOD_TABLE` says how each is called and checked.
 *
 * @example
 * ```ts
 * const method: BrokerMethod = "submitOrder";
 * broker.script({ kind: "unavailable", method });
 * ```
 */
export type BrokerMethod = Exclude<keyof BrokerPort, "id" | "capabilities" | "subscribeOrderUpdates">;

/**
 * The arguments of each {@link BrokerMethod}, by name.
 *
 * @example
 * ```ts
 * const args: BrokerCallArgs["getOrder"] = ["order-id", { signal }];
 * ```
 */
export type BrokerCallArgs = { [M in BrokerMethod]: Parameters<NonNullable<BrokerPort[M]>> };

/**
 * What each {@link BrokerMethod} resolves to, by name.
 *
 * @example
 * ```ts
 * const order: BrokerCallReplies["submitOrder"] = await broker.submitOrder(request);
 * ```
 */
export type BrokerCallReplies = { [M in BrokerMethod]: Awaited<ReturnType<NonNullable<BrokerPort[M]>>> };

/**
 * The one interface through which ordersafe reaches a broker. Implement it for your own
 * broker and check it with `runBrokerConformance()` from `ordersafe/testing`.
 *
 * @remarks
 * Contract rules the types alone do not say:
 * - Failures are thrown as `BrokerError` with a code (see {@link BrokerErrorCode}). A
 *   refusal known at submit is thrown; a refusal after acceptance arrives as status
 *   `rejected` (with `rejectReason`) through updates and REST.
 * - Client order ids are unique forever: a reused one is refused with
 *   `duplicate_client_order_id`, even after the first order ended.
 * - `closePosition(symbol)` sells the whole position; with no position it throws
 *   `not_found`; shares held by open sells: `insufficient_quantity`.
 * - `OrderSnapshot.filledQty` is cumulative; `OrderUpdate.fill` is this fill's own.
 * - Final statuses: `filled`, `canceled`, `expired`, `replaced`, `rejected`,
 *   `done_for_day`, `calculated`. `listOpenOrders()` returns every other order.
 *   `cancelOrder()` resolving means the cancel was accepted, not that the order is canceled.
 * - `getOrder` / `getOrderByClientOrderId` return null for an unknown order (a fresh one may
 *   be invisible for a moment); `getPosition` returns null for no position; `getPositions`
 *   omits zero positions; `getAssets` and `getLatestPrices` omit unknown symbols.
 *   Submitting an unknown symbol: `invalid_order`; untradable: `rejected`; a fraction on a
 *   non-fractionable asset: `not_fractionable`; under the minimum: `min_notional`.
 * - Abort: before the call, throw the abort reason and do nothing; during a write,
 *   `ambiguous`; during a read, the abort reason.
 * - Updates: connect asynchronously, call `onStatus("connected")` once updates will be
 *   delivered, then report every change of the connection. Updates for any order are
 *   delivered while connected; nothing is replayed after a reconnect.
 * - `asOf` is when the port read the state; `brokerCode` is a string. Requests the port
 *   cannot carry out (a notional limit order, an unsupported time in force) throw
 *   `invalid_order`.
 *
 * @example
 * ```ts
 * const broker: BrokerPort = createSimulatedBroker({ cash: 10_000, prices: { SPY: 500 } });
 * const account = await broker.getAccount();
 * ```
 */
export interface BrokerPort {
  /** A name for logs and reports (`"alpaca-paper"`, `"simulated"`). */
  readonly id: string;
  /** What the port can do. */
  readonly capabilities: BrokerCapabilities;
  /** Reads the account. */
  getAccount(opts?: CallOptions): Promise<AccountSnapshot>;
  /** Reads every non-zero position. */
  getPositions(opts?: CallOptions): Promise<PositionSnapshot[]>;
  /** Reads one position; null when flat. */
  getPosition(symbol: string, opts?: CallOptions): Promise<PositionSnapshot | null>;
  /** Reads trading rules; unknown symbols are omitted. */
  getAssets(symbols: readonly string[], opts?: CallOptions): Promise<AssetRules[]>;
  /** Reads the latest prices; symbols without a price are omitted. */
  getLatestPrices(symbols: readonly string[], opts?: CallOptions): Promise<Map<string, Decimal>>;
  /** Reads the market clock. */
  getClock(opts?: CallOptions): Promise<MarketClock>;
  /** Places an order. */
  submitOrder(request: OrderRequest, opts?: CallOptions): Promise<OrderSnapshot>;
  /** Reads an order by the broker's id; null when unknown. */
  getOrder(orderId: string, opts?: CallOptions): Promise<OrderSnapshot | null>;
  /** Reads an order by client order id; null when unknown. */
  getOrderByClientOrderId(clientOrderId: string, opts?: CallOptions): Promise<OrderSnapshot | null>;
  /** Reads every open (non-final) order. */
  listOpenOrders(opts?: CallOptions): Promise<OrderSnapshot[]>;
  /** Requests a cancel; resolving means the request was accepted. */
  cancelOrder(orderId: string, opts?: CallOptions): Promise<void>;
  /** Sells (or buys back) the whole position with a broker-made id. */
  closePosition(symbol: string, opts?: CallOptions): Promise<OrderSnapshot>;
  /** Subscribes to order updates. */
  subscribeOrderUpdates(listener: OrderUpdateListener): Subscription;
  /**
   * Reads the account's orders, open or final, whoever placed them: newest first by
   * submission time, `after` / `until` exclusive, open orders when `status` is not given
   * (see {@link ListOrdersQuery}). Optional, announced by `capabilities.orderHistory`: one
   * call tells what filled recently on the account. Orders refused at submit (thrown as
   * `BrokerError`) are not listed: the broker never made them. A fresh order may be missing
   * for a moment, as from the other order reads.
   */
  listOrders?(query: ListOrdersQuery, opts?: CallOptions): Promise<OrderSnapshot[]>;
  /**
   * Reads the latest quote of each symbol; symbols without a quote are omitted. Optional,
   * announced by `capabilities.quotes`.
   */
  getLatestQuotes?(symbols: readonly string[], opts?: CallOptions): Promise<Map<string, Quote>>;
  /**
   * Replaces a working order: the broker makes a new order with the changes (a new id) and
   * the old one ends `replaced`; resolves with the new order. Optional, announced by
   * `capabilities.replace`. A write: a lost reply (`ambiguous`) may have replaced the order,
   * so the caller settles it by reading the order chain (the old order's status, the new
   * client order id). An order that is no longer open (or not yet acknowledged) is refused
   * with `not_cancelable`, a bad change with `invalid_order`, an unknown id with `not_found`.
   */
  replaceOrder?(orderId: string, changes: ReplaceOrderChanges, opts?: CallOptions): Promise<OrderSnapshot>;
}
