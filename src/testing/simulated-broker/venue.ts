import type {
  BrokerOrderStatus,
  OrderFill,
  OrderRequest,
  OrderUpdate,
  OrderUpdateEvent,
  ReplaceOrderChanges,
} from "../../broker/broker-port.js";
import { isFinalBrokerStatus } from "../../broker/broker-port.js";
import { parseOrderRequest } from "../../broker/schemas.js";
import type { Clock } from "../../core/clock.js";
import { type Decimal, ZERO } from "../../core/decimal.js";
import { type BrokerError, isValidationError } from "../../core/errors.js";
import { createRandom } from "../../core/random.js";
import { scheduleOn } from "../virtual-clock.js";
import { brokerError, refusalError } from "./broker-errors.js";
import { EventLog } from "./event-log.js";
import { FaultPlan, faultNumber, faultText } from "./fault-plan.js";
import { FillEngine, type FillVenue } from "./fill-engine.js";
import { Holdings } from "./holdings.js";
import { assetWith, defaultAsset, Market } from "./market.js";
import { SIMULATED_BROKER_DEFAULTS, type SimSettings, type StaleReadMethod } from "./options.js";
import { IdSource, isOpen, OrderBook, type SimOrder, snapshotOf } from "./order-book.js";
import { QuoteModel } from "./quote-model.js";
import { ReadLag } from "./read-lag.js";
import { type PositionState, StateHistory, type StateRecord } from "./state-history.js";
import { UpdateStream } from "./update-stream.js";
import {
  type Admission,
  admissionRefusal,
  cancelRefusal,
  closeRefusal,
  notReplaceable,
  queuedUntilOpen,
  type Refusal,
  replaceRefusal,
  sellQuantity,
} from "./venue-rules.js";

const FAULT_DEFAULTS = SIMULATED_BROKER_DEFAULTS.faults;

/** How an order came: a submit, or `closePosition`'s own sell. */
type Via = "submitOrder" | "closePosition";

/**
 * The simulated venue: the market, the account's holdings, the order book, fills, the update
 * stream, the fault plan and the state history, and the order lifecycle that ties them
 * (place → ack → fills → final; cancel; the market's open and close).
 *
 * @remarks Every status change is logged (`update`) and published on the stream; every
 * change of the holdings or of what orders hold records the state, so a read can be
 * answered as of a moment ago.
 */
export class Venue implements FillVenue {
  readonly clock: Clock;
  readonly log: EventLog;
  readonly faults: FaultPlan;
  readonly market: Market;
  readonly holdings: Holdings;
  readonly ids: IdSource;
  readonly book: OrderBook;
  readonly stream: UpdateStream;
  private readonly fills: FillEngine;
  private readonly history: StateHistory;
  private readonly readLag: ReadLag;

  /** @param settings - the parsed options */
  constructor(private readonly settings: SimSettings) {
    this.clock = settings.clock;
    this.log = new EventLog(this.clock);
    this.faults = new FaultPlan(settings.seed, settings.faults, this.log);
    this.stream = new UpdateStream(this.clock, this.log, this.faults, settings.streamMs);
    this.ids = new IdSource(createRandom(settings.seed ^ 0x5bd1e995));
    this.book = new OrderBook(this.ids);
    const quotes = settings.quotes === undefined ? undefined : new QuoteModel(settings.quotes, settings.seed);
    this.market = new Market(settings.marketOpen, () => this.clock.now(), quotes);
    for (const [symbol, price] of settings.prices) {
      this.market.setPrice(symbol, price);
      this.market.list(defaultAsset(symbol));
    }
    for (const [symbol, rules] of settings.assets) this.market.list(assetWith(symbol, rules));
    this.holdings = new Holdings(settings.cash, this.startingPositions());
    this.fills = new FillEngine(settings, createRandom(settings.seed ^ 0x2545f491), this);
    this.history = new StateHistory(this.stateNow());
    this.readLag = new ReadLag(
      settings.readLag,
      createRandom(settings.seed ^ 0x6a09e667),
      createRandom(settings.seed ^ 0x3c6ef372),
      this.log,
    );
  }

  // ---------------------------------------------------------------- orders

  /**
   * Places an order: the request is parsed, judged by the venue rules, then taken.
   *
   * @throws BrokerError for a refusal (the refused order is kept, status `rejected`)
   */
  place(raw: OrderRequest, via: Via): SimOrder {
    const request = this.parseRequest(raw);
    const refused = admissionRefusal(this.admission(request, via));
    if (refused !== undefined) throw this.refuse(request, refused);
    return this.accept(request, via);
  }

  /**
   * Accepts a cancel (the order goes `pending_cancel`, then `canceled` one round trip later).
   *
   * @throws BrokerError (`not_found`, `not_cancelable`)
   */
  cancel(orderId: string): void {
    const o = this.book.get(orderId);
    const refused = cancelRefusal(orderId, o?.status);
    if (refused !== undefined) throw refusalError(refused);
    if (o !== undefined && o.status !== "pending_cancel") this.requestCancel(o);
  }

  /**
   * Sells the whole position by market order, under a client order id of the venue's.
   *
   * @throws BrokerError (`not_found` when flat, `insufficient_quantity` when open sells hold shares)
   */
  closePosition(symbol: string): SimOrder {
    const qty = this.holdings.qty(symbol);
    const refused = closeRefusal(symbol, qty, this.book.sellHeld(symbol));
    if (refused !== undefined) throw refusalError(refused);
    const clientOrderId = this.book.closeClientOrderId(this.settings.seed);
    return this.place(
      { clientOrderId, symbol, side: "sell", type: "market", timeInForce: "day", qty },
      "closePosition",
    );
  }

  /**
   * Replaces a working order, as Alpaca's `PATCH /v2/orders/{id}`: a new order (a new id; the
   * client order id given, else one of the venue's) with the old one's terms and the changes,
   * judged by the venue rules as if the old one were gone; the old order ends `replaced` and
   * keeps its fills. Without `qty` the new order takes what the old one had left.
   *
   * @throws BrokerError (`not_found`, `not_cancelable` for an order not open or filled by a
   *   `fill_before_replace` race, `invalid_order` for a notional order or a bad change, and
   *   every refusal of a new order); nothing changes then, but what the race filled
   */
  replace(orderId: string, changes: ReplaceOrderChanges): SimOrder {
    const o = this.book.get(orderId);
    const refused = replaceRefusal(
      orderId,
      o === undefined ? undefined : { status: o.status, notional: o.notional },
    );
    if (refused !== undefined || o === undefined || o.qty === undefined) {
      throw refusalError(refused ?? notReplaceable(orderId, o?.status ?? "new"));
    }
    if (this.faults.take(["fill_before_replace"], "replaceOrder") !== undefined) {
      this.fills.fillRestNow(o);
      throw refusalError(notReplaceable(orderId, o.status));
    }
    const request = this.parseRequest({
      clientOrderId: changes.clientOrderId ?? this.book.replaceClientOrderId(this.settings.seed),
      symbol: o.symbol,
      side: o.side,
      type: o.type,
      timeInForce: o.timeInForce,
      qty: changes.qty ?? o.qty.minus(o.filledQty),
      ...(changes.limitPrice !== undefined || o.limitPrice !== undefined
        ? { limitPrice: changes.limitPrice ?? o.limitPrice }
        : {}),
      ...(o.extendedHours ? { extendedHours: true } : {}),
    });
    const admission = this.admission(request, "submitOrder", o);
    const refusedNew = admissionRefusal(admission);
    if (refusedNew !== undefined) throw refusalError(refusedNew, { symbol: request.symbol });
    this.fills.stop(o);
    this.log.record("replace", { orderId: o.id, clientOrderId: request.clientOrderId });
    this.setStatus(o, "replaced", "replaced");
    return this.accept(request, "submitOrder");
  }

  /** Whether lookups see the order yet (a `not_found_lag` fault hides a new one for a while). */
  visible(o: SimOrder): boolean {
    return o.live && this.clock.now() >= o.visibleAt;
  }

  // ---------------------------------------------------------------- market and outside trades

  /** Sets a price (listing the symbol if new); the symbol's orders that became marketable start filling. */
  setPrice(symbol: string, price: Decimal): void {
    this.market.setPrice(symbol, price);
    this.market.listIfNew(symbol);
    this.log.record("price", { symbol, price: price.toString() });
    this.recordState();
    for (const o of this.book.openOrders()) if (o.symbol === symbol) this.fills.work(o);
  }

  /** Opens the session (queued orders are acknowledged, the others work) or closes it (working DAY orders expire). */
  setMarketOpen(open: boolean): void {
    if (!this.market.setOpen(open)) return;
    this.log.record("market", { open });
    if (open) {
      for (const o of this.book.openOrders()) {
        if (o.live && o.status === "accepted") this.ack(o);
        else this.fills.work(o);
      }
      return;
    }
    for (const o of this.book.openOrders()) {
      if (!isOpen(o) || o.status === "accepted" || o.extendedHours || o.timeInForce !== "day") continue;
      this.fills.stop(o);
      this.setStatus(o, "expired", "expired");
    }
    this.recordState();
  }

  /**
   * A trade made elsewhere: the position and cash move, the symbol is listed (and priced) if
   * new, and the order history shows it as another app's filled market order (`elsewhere-N`).
   */
  outsideTrade(symbol: string, qtyDelta: Decimal, price: Decimal): void {
    this.market.listIfNew(symbol);
    if (this.market.price(symbol) === undefined) this.market.setPrice(symbol, price);
    this.holdings.apply(symbol, qtyDelta, price);
    // Another app's order: the order history shows it, as a broker's would.
    if (!qtyDelta.isZero()) this.book.addElsewhere({ symbol, qtyDelta, price, now: this.clock.now() });
    this.log.record("outside_trade", { symbol, qtyDelta: qtyDelta.toString(), price: price.toString() });
    this.recordState();
  }

  // ---------------------------------------------------------------- state history (reads that lag)

  /** Records the state now. */
  recordState(): void {
    this.history.capture(this.stateNow());
  }

  /**
   * The state a position or account read sees: now, or as of a while ago when the read lags:
   * a `stale_reads` fault, a `read_lag` fault, the endpoint's `readLag` option (the longest
   * of them wins). Nothing lags: the state now, with no draw and nothing logged.
   */
  readState(method: StaleReadMethod): StateRecord {
    this.recordState();
    const stale = this.faults.take(["stale_reads"], method);
    const lag = this.faults.take(["read_lag"], method, (f) => this.readLag.faultDelay(f));
    const delays = [this.readLag.endpointDelay(method)];
    if (stale !== undefined) delays.push(faultNumber(stale, "ms", FAULT_DEFAULTS.stale_reads.ms));
    if (lag !== undefined) delays.push(faultNumber(lag, "ms", 0));
    if (stale === undefined && lag === undefined && delays[0] === 0) return this.history.latest();
    return this.history.asOf(this.clock.now() - Math.max(...delays));
  }

  // ---------------------------------------------------------------- lifecycle

  /** Changes an order's status and publishes the update. */
  setStatus(o: SimOrder, status: BrokerOrderStatus, event: OrderUpdateEvent, fill?: OrderFill): void {
    o.status = status;
    o.updatedAt = this.clock.now();
    if (isFinalBrokerStatus(status)) this.book.ended(o);
    const update: OrderUpdate = { event, order: snapshotOf(o), at: new Date(this.clock.now()) };
    if (fill !== undefined) update.fill = fill;
    this.log.record("update", {
      orderId: o.id,
      event,
      status: o.status,
      filledQty: o.filledQty.toString(),
      fillQty: fill?.qty.toString() ?? null,
      executionId: fill?.executionId ?? null,
    });
    this.stream.publish(update);
  }

  /** The request through the order schema; one that fails it is refused as Alpaca's 40010001, with no order made. */
  private parseRequest(raw: OrderRequest): OrderRequest {
    try {
      return parseOrderRequest(raw);
    } catch (e) {
      if (!isValidationError(e)) throw e;
      this.log.record("refused", { code: "invalid_order", clientOrderId: null });
      throw brokerError("invalid_order", e.message.replace(/^\[ordersafe\]\s*/, ""), "40010001", {
        issues: e.issues.map((i) => ({ path: i.path, message: i.message })),
      });
    }
  }

  /**
   * What the venue rules judge a request by: the request and the account state now (as if
   * `replacing`, the order a replace ends, were gone).
   */
  private admission(request: OrderRequest, via: Via, replacing?: SimOrder): Admission {
    const price = (symbol: string) => this.market.price(symbol);
    return {
      request,
      via,
      clientOrderIdUsed: this.book.isUsed(request.clientOrderId),
      asset: this.market.asset(request.symbol),
      price: this.market.price(request.symbol),
      openOrders: this.book.openOrders().filter((o) => isOpen(o) && o !== replacing),
      position: this.holdings.qty(request.symbol),
      sellHeld: this.book.sellHeld(request.symbol, replacing),
      buyingPower: this.holdings.cash.minus(
        this.book.buyHold(price, this.settings.marketBuyBuffer, replacing),
      ),
      marketBuyBuffer: this.settings.marketBuyBuffer,
    };
  }

  /** A refused order is kept (status `rejected`, known to no lookup) and the refusal returned to throw. */
  private refuse(request: OrderRequest, refused: Refusal): BrokerError {
    const o = this.book.create(request, "rejected", false, this.clock.now());
    o.rejectReason = refused.message;
    this.book.keepRefused(o);
    this.log.record("refused", { code: refused.code, orderId: o.id, clientOrderId: request.clientOrderId });
    return refusalError(refused, { symbol: request.symbol });
  }

  /** Takes an order: it holds shares or cash from now, and is acknowledged (or queued until the open). */
  private accept(request: OrderRequest, via: Via): SimOrder {
    const queued = queuedUntilOpen(request, this.market.isOpen);
    const o = this.book.create(request, queued ? "accepted" : "pending_new", true, this.clock.now());
    if (request.side === "sell")
      o.sellReserve = sellQuantity(request, this.market.price(request.symbol)) ?? ZERO;
    this.book.add(o);
    const lag = this.faults.take(["not_found_lag"]);
    if (lag !== undefined)
      o.visibleAt = this.clock.now() + faultNumber(lag, "ms", FAULT_DEFAULTS.not_found_lag.ms);
    const reject = this.faults.take(["reject_after_accept"]);
    if (reject !== undefined)
      o.pendingReject = faultText(reject, "reason", FAULT_DEFAULTS.reject_after_accept.reason);
    this.log.record("submit", {
      orderId: o.id,
      clientOrderId: o.clientOrderId,
      symbol: o.symbol,
      side: o.side,
      orderType: o.type,
      timeInForce: o.timeInForce,
      qty: o.qty?.toString() ?? null,
      notional: o.notional?.toString() ?? null,
      limitPrice: o.limitPrice?.toString() ?? null,
      status: o.status,
      via: via === "closePosition" ? via : null,
    });
    this.recordState();
    if (!queued) {
      if (this.settings.restMs <= 0) this.ack(o);
      else scheduleOn(this.clock, this.settings.restMs, () => this.ack(o));
    }
    return o;
  }

  /** The venue acknowledges an order (`new`); it then works, or is rejected, or (IOC/FOK not marketable) canceled. */
  private ack(o: SimOrder): void {
    if (o.status !== "pending_new" && o.status !== "accepted") return;
    this.setStatus(o, "new", "new");
    const reason = o.pendingReject;
    if (reason !== undefined) {
      scheduleOn(this.clock, this.settings.fillMs, () => {
        if (!isOpen(o)) return;
        this.fills.stop(o);
        o.rejectReason = reason;
        this.setStatus(o, "rejected", "rejected");
        this.recordState();
      });
      return;
    }
    if ((o.timeInForce === "ioc" || o.timeInForce === "fok") && !this.fills.marketable(o)) {
      this.setStatus(o, "canceled", "canceled");
      this.recordState();
      return;
    }
    this.fills.work(o);
  }

  /** `pending_cancel` now, `canceled` one round trip later, unless a cancel fault says otherwise. */
  private requestCancel(o: SimOrder): void {
    const fault = this.faults.take(["stuck_pending_cancel", "fill_after_cancel"]);
    this.setStatus(o, "pending_cancel", "pending_cancel");
    if (fault?.kind === "stuck_pending_cancel") return;
    const lateFill = fault?.kind === "fill_after_cancel";
    // The cancel lands one REST latency after the reply: the caller sees `pending_cancel` first.
    scheduleOn(this.clock, 2 * this.settings.restMs, () => {
      if (isFinalBrokerStatus(o.status)) return;
      this.fills.stop(o);
      this.setStatus(o, "canceled", "canceled");
      this.recordState();
      if (lateFill) this.fills.fillLate(o);
    });
  }

  private buyHold(): Decimal {
    return this.book.buyHold((symbol) => this.market.price(symbol), this.settings.marketBuyBuffer);
  }

  private stateNow(): StateRecord {
    const positions = new Map<string, PositionState>();
    const sellHeld = new Map<string, Decimal>();
    for (const [s, p] of this.holdings.entries()) {
      positions.set(s, { ...p });
      sellHeld.set(s, this.book.sellHeld(s));
    }
    return {
      at: this.clock.now(),
      cash: this.holdings.cash,
      positions,
      sellHeld,
      buyHold: this.buyHold(),
      prices: this.market.pricesNow(),
    };
  }

  /** The starting positions, each at its price (the options schema makes sure there is one). */
  private *startingPositions(): Generator<[string, PositionState]> {
    for (const [symbol, qty] of this.settings.positions) {
      const price = this.market.price(symbol);
      if (price !== undefined) yield [symbol, { qty, avgEntryPrice: price }];
    }
  }
}
