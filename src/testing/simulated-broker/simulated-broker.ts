import { z } from "zod";
import type {
  AccountSnapshot,
  AssetRules,
  BrokerCapabilities,
  BrokerOrderStatus,
  BrokerPort,
  CallOptions,
  MarketClock,
  OrderFill,
  OrderRequest,
  OrderSide,
  OrderSnapshot,
  OrderType,
  OrderUpdate,
  OrderUpdateEvent,
  OrderUpdateListener,
  PositionSnapshot,
  Subscription,
  TimeInForce,
} from "../../broker/broker-port.js";
import { isFinalBrokerStatus } from "../../broker/broker-port.js";
import { parseOrderRequest } from "../../broker/schemas.js";
import { abortReason, type Clock, throwIfAborted } from "../../core/clock.js";
import { Decimal, type DecimalLike, floorToIncrement, Rounding, ZERO } from "../../core/decimal.js";
import { type BrokerError, isValidationError, ValidationError } from "../../core/errors.js";
import { createRandom, type Random } from "../../core/random.js";
import { parseInput, zDecimal, zPositiveDecimal, zSymbol } from "../../core/validation.js";
import { scheduleOn, VirtualClock } from "../virtual-clock.js";
import { brokerError, refusalError } from "./broker-errors.js";
import { EventLog, type SimEvent } from "./event-log.js";
import { FaultPlan, faultNumber, faultText, REST_ERROR_FAULTS } from "./fault-plan.js";
import {
  BROKER_METHODS,
  type BrokerMethod,
  type ScriptedFault,
  ScriptedFaultSchema,
  SIMULATED_BROKER_DEFAULTS,
  type SimulatedBrokerOptions,
  SimulatedBrokerOptionsSchema,
  type StaleReadMethod,
} from "./options.js";
import {
  accountIn,
  type PositionState,
  positionIn,
  positionsIn,
  StateHistory,
  type StateRecord,
} from "./state-history.js";
import { UpdateStream } from "./update-stream.js";
import {
  type Admission,
  admissionRefusal,
  buyHold,
  cancelRefusal,
  closeRefusal,
  queuedUntilOpen,
  type Refusal,
  sellQuantity,
} from "./venue-rules.js";

/**
 * The real state of the simulated account, never stale.
 *
 * @example
 * ```ts
 * const { cash, positions } = broker.truth();
 * ```
 */
export interface SimTruth {
  /** Cash now. */
  cash: Decimal;
  /** Every non-zero position, symbol → shares. */
  positions: Map<string, Decimal>;
}

/**
 * A deterministic in-memory broker that implements the whole `BrokerPort` with Alpaca's rules,
 * plus controls and inspection for tests. Made by {@link createSimulatedBroker}.
 *
 * @remarks
 * For a server that puts it behind a wire protocol: every `BrokerPort` call applies the
 * scripted and seeded faults like a real broker would; `findOrder()` reads any order (final
 * ones too) without faults; every `BrokerError` it throws carries `brokerCode` and
 * `details.httpStatus`, `details.reason` (the message), and the facts Alpaca adds
 * (`available`, `existing_qty`, `held_for_orders`, `requested`, `buying_power`,
 * `cost_basis`, `existing_order_id`, `reject_reason`, `symbol`).
 *
 * @example
 * ```ts
 * const broker: SimulatedBroker = createSimulatedBroker({ prices: { SPY: 500 } });
 * broker.setPrice("SPY", 480);
 * broker.script({ kind: "fill_after_cancel" });
 * ```
 */
export interface SimulatedBroker extends BrokerPort {
  /** The clock every delay of the broker runs on. */
  readonly clock: Clock;
  /** Call counts per `BrokerPort` method (a copy). */
  readonly calls: Readonly<Record<BrokerMethod, number>>;
  /**
   * Sets a symbol's price (creating a tradable, fractionable asset if unknown); limit orders
   * that became marketable start filling.
   *
   * @throws ValidationError (`validation`) for a bad symbol or a price ≤ 0
   */
  setPrice(symbol: string, price: DecimalLike): void;
  /** Opens or closes the market. Opening works the orders queued as `accepted`; closing expires working `day` orders. */
  setMarketOpen(open: boolean): void;
  /**
   * Queues a fault for the next matching call or event.
   *
   * @throws ValidationError (`validation`) for an unknown kind or bad parameters
   */
  script(fault: ScriptedFault): void;
  /** Drops every subscription's connection now for `downMs` (disconnected → reconnecting → connected). */
  disconnectStream(downMs: number): void;
  /** Every order ever submitted, refused ones too (status `rejected`), in submit order. */
  orders(): OrderSnapshot[];
  /** One order by id or client order id, final ones included, ignoring every fault; undefined when unknown. */
  findOrder(idOrClientOrderId: string): OrderSnapshot | undefined;
  /** The total of every call count. */
  totalCalls(): number;
  /** Sets every call count to 0. */
  resetCalls(): void;
  /** The log of everything that happened, JSON-serializable. */
  eventLog(): readonly SimEvent[];
  /** The real cash and positions now. */
  truth(): SimTruth;
  /**
   * A position (and cash) changes with no order of ours: a trade made elsewhere.
   *
   * @param symbol - the symbol (created if unknown)
   * @param qtyDelta - shares added (negative: removed)
   * @param price - the trade price; default the current price
   * @throws ValidationError (`validation`) for bad input, a missing price, or a position that would go negative
   */
  outsideTrade(symbol: string, qtyDelta: DecimalLike, price?: DecimalLike): void;
}

interface SimOrder {
  id: string;
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  qty: Decimal | undefined;
  notional: Decimal | undefined;
  limitPrice: Decimal | undefined;
  extendedHours: boolean;
  filledQty: Decimal;
  filledValue: Decimal;
  status: BrokerOrderStatus;
  createdAt: number;
  updatedAt: number;
  rejectReason: string | undefined;
  /** Known to the broker (false for an order refused at submit). */
  live: boolean;
  visibleAt: number;
  /** Shares a sell holds against the position. */
  sellReserve: Decimal;
  partsLeft: number | undefined;
  cancelFill: (() => void) | undefined;
  pendingReject: string | undefined;
}

const FAULT_DEFAULTS = SIMULATED_BROKER_DEFAULTS.faults;
const D = SIMULATED_BROKER_DEFAULTS;
const DEFAULT_INCREMENT = new Decimal(D.asset.fractionalIncrement);
function isOpen(o: SimOrder): boolean {
  return o.live && !isFinalBrokerStatus(o.status);
}

function uuid(rand: Random): string {
  let h = "";
  for (let i = 0; i < 4; i++)
    h += Math.floor(rand() * 4294967296)
      .toString(16)
      .padStart(8, "0");
  const variant = "89ab"[Number.parseInt(h[16] ?? "0", 16) & 3];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function nextUtcWeekdayAt(now: number, hour: number, minute: number): number {
  const d = new Date(now);
  let t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), hour, minute);
  for (;;) {
    const day = new Date(t).getUTCDay();
    if (t > now && day !== 0 && day !== 6) return t;
    t += 86_400_000;
  }
}

const SetPriceSchema = z.object({ symbol: zSymbol, price: zPositiveDecimal }).strict();
const OutsideTradeSchema = z
  .object({ symbol: zSymbol, qtyDelta: zDecimal, price: zPositiveDecimal.optional() })
  .strict();
const SymbolSchema = zSymbol;
const SymbolsSchema = z.array(zSymbol);
const IdSchema = z.string().min(1);
const MsSchema = z.number().finite().min(0);

class SimulatedBrokerImpl implements SimulatedBroker {
  readonly id: string;
  readonly capabilities: BrokerCapabilities = Object.freeze({
    fractional: true,
    notionalOrders: true,
    closePosition: true,
    orderUpdates: true,
  });
  readonly clock: Clock;

  private readonly seed: number;
  private cash: Decimal;
  private readonly positions = new Map<string, PositionState>();
  private readonly prices = new Map<string, Decimal>();
  private readonly assets = new Map<string, AssetRules>();
  private readonly restMs: number;
  private readonly fillMs: number;
  private readonly streamMs: number;
  private readonly partialProbability: number;
  private readonly partialParts: number;
  private readonly slippageBps: number;
  private readonly buyBuffer: Decimal;
  private marketOpen: boolean;

  private readonly faults: FaultPlan;
  private readonly fillRandom: Random;
  private readonly idRandom: Random;

  private readonly allOrders: SimOrder[] = [];
  /** The orders not final yet, in submit order (what holds cash and shares). */
  private readonly openOrders = new Set<SimOrder>();
  private readonly byId = new Map<string, SimOrder>();
  private readonly byClientId = new Map<string, SimOrder>();
  private readonly usedClientIds = new Set<string>();
  private closeCounter = 0;

  private readonly counts: Record<BrokerMethod, number>;
  private readonly log: EventLog;
  private readonly history: StateHistory;
  private readonly stream: UpdateStream;

  constructor(options: SimulatedBrokerOptions) {
    const o = parseInput(SimulatedBrokerOptionsSchema, options ?? {}, "options");
    this.id = o.id ?? D.id;
    this.clock = o.clock ?? new VirtualClock();
    this.seed = o.seed ?? D.seed;
    this.cash = o.cash ?? new Decimal(D.cash);
    this.restMs = o.latency?.restMs ?? D.latency.restMs;
    this.fillMs = o.latency?.fillMs ?? D.latency.fillMs;
    this.streamMs = o.latency?.streamMs ?? D.latency.streamMs;
    const pf = o.partialFills ?? D.partialFills.on;
    this.partialProbability =
      pf === false
        ? 0
        : pf === true
          ? D.partialFills.probability
          : (pf.probability ?? D.partialFills.probability);
    this.partialParts = typeof pf === "object" ? (pf.parts ?? D.partialFills.parts) : D.partialFills.parts;
    this.slippageBps = o.slippage?.bps ?? D.slippageBps;
    this.buyBuffer = new Decimal(o.marketBuyBuffer ?? D.marketBuyBuffer);
    this.marketOpen = o.marketOpen ?? D.marketOpen;
    this.log = new EventLog(this.clock);
    this.faults = new FaultPlan(this.seed, o.faults, this.log);
    this.stream = new UpdateStream(this.clock, this.log, this.faults, this.streamMs);
    this.fillRandom = createRandom(this.seed ^ 0x2545f491);
    this.idRandom = createRandom(this.seed ^ 0x5bd1e995);
    this.counts = Object.fromEntries(BROKER_METHODS.map((m) => [m, 0])) as Record<BrokerMethod, number>;

    for (const [symbol, price] of Object.entries(o.prices ?? {})) {
      this.prices.set(symbol, price);
      this.assets.set(symbol, this.defaultAsset(symbol));
    }
    for (const [symbol, rules] of Object.entries(o.assets ?? {})) {
      const fractionable = rules.fractionable ?? D.asset.fractionable;
      this.assets.set(symbol, {
        symbol,
        tradable: rules.tradable ?? D.asset.tradable,
        fractionable,
        qtyIncrement:
          rules.qtyIncrement ?? (fractionable ? DEFAULT_INCREMENT : new Decimal(D.asset.wholeIncrement)),
        minNotional: rules.minNotional ?? new Decimal(D.asset.minNotional),
      });
    }
    for (const [symbol, qty] of Object.entries(o.positions ?? {})) {
      if (qty.isZero()) continue;
      const price = this.prices.get(symbol) as Decimal;
      this.positions.set(symbol, { qty, avgEntryPrice: price });
    }
    this.history = new StateHistory(this.stateNow());
  }

  // ---------------------------------------------------------------- inspection and controls

  get calls(): Readonly<Record<BrokerMethod, number>> {
    return Object.freeze({ ...this.counts });
  }

  totalCalls(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  resetCalls(): void {
    for (const m of BROKER_METHODS) this.counts[m] = 0;
  }

  eventLog(): readonly SimEvent[] {
    return this.log.list();
  }

  orders(): OrderSnapshot[] {
    return this.allOrders.map((o) => this.snap(o));
  }

  findOrder(idOrClientOrderId: string): OrderSnapshot | undefined {
    const o = this.byId.get(idOrClientOrderId) ?? this.byClientId.get(idOrClientOrderId);
    return o === undefined ? undefined : this.snap(o);
  }

  truth(): SimTruth {
    const positions = new Map<string, Decimal>();
    for (const [s, p] of this.positions) positions.set(s, p.qty);
    return { cash: this.cash, positions };
  }

  setPrice(symbol: string, price: DecimalLike): void {
    const input = parseInput(SetPriceSchema, { symbol, price }, "setPrice");
    this.prices.set(input.symbol, input.price);
    if (!this.assets.has(input.symbol)) this.assets.set(input.symbol, this.defaultAsset(input.symbol));
    this.log.record("price", { symbol: input.symbol, price: input.price.toString() });
    this.recordState();
    for (const o of [...this.openOrders]) if (o.symbol === input.symbol) this.work(o);
  }

  setMarketOpen(open: boolean): void {
    const value = parseInput(z.boolean(), open, "open");
    if (value === this.marketOpen) return;
    this.marketOpen = value;
    this.log.record("market", { open: value });
    if (value) {
      for (const o of [...this.openOrders]) {
        if (o.live && o.status === "accepted") this.ack(o);
        else this.work(o);
      }
    } else {
      for (const o of [...this.openOrders]) {
        if (!isOpen(o) || o.status === "accepted" || o.extendedHours || o.timeInForce !== "day") continue;
        this.stopFills(o);
        this.setStatus(o, "expired", "expired");
      }
      this.recordState();
    }
  }

  script(fault: ScriptedFault): void {
    this.faults.script(parseInput(ScriptedFaultSchema, fault, "fault"));
  }

  disconnectStream(downMs: number): void {
    this.stream.disconnect(parseInput(MsSchema, downMs, "downMs"));
  }

  outsideTrade(symbol: string, qtyDelta: DecimalLike, price?: DecimalLike): void {
    const input = parseInput(
      OutsideTradeSchema,
      price === undefined ? { symbol, qtyDelta } : { symbol, qtyDelta, price },
      "outsideTrade",
    );
    const tradePrice = input.price ?? this.prices.get(input.symbol);
    if (tradePrice === undefined) {
      throw parseInputError("outsideTrade.price", "expected a price (the symbol has none)", price);
    }
    const current = this.positions.get(input.symbol);
    const qty = (current?.qty ?? ZERO).plus(input.qtyDelta);
    if (qty.isNegative()) {
      throw parseInputError(
        "outsideTrade.qtyDelta",
        "the position would go negative",
        input.qtyDelta.toString(),
      );
    }
    if (!this.assets.has(input.symbol)) this.assets.set(input.symbol, this.defaultAsset(input.symbol));
    if (!this.prices.has(input.symbol)) this.prices.set(input.symbol, tradePrice);
    this.applyTrade(input.symbol, input.qtyDelta, tradePrice);
    this.log.record("outside_trade", {
      symbol: input.symbol,
      qtyDelta: input.qtyDelta.toString(),
      price: tradePrice.toString(),
    });
    this.recordState();
  }

  // ---------------------------------------------------------------- BrokerPort: reads

  getAccount(opts?: CallOptions): Promise<AccountSnapshot> {
    return this.call("getAccount", opts, false, () => {
      const account = accountIn(this.readState("getAccount"), new Date(this.clock.now()));
      return () => account;
    });
  }

  getPositions(opts?: CallOptions): Promise<PositionSnapshot[]> {
    return this.call("getPositions", opts, false, () => {
      const list = positionsIn(this.readState("getPositions"));
      return () => list;
    });
  }

  getPosition(symbol: string, opts?: CallOptions): Promise<PositionSnapshot | null> {
    return this.call("getPosition", opts, false, () => {
      const s = parseInput(SymbolSchema, symbol, "symbol");
      const p = positionIn(this.readState("getPosition"), s);
      return () => p;
    });
  }

  getAssets(symbols: readonly string[], opts?: CallOptions): Promise<AssetRules[]> {
    return this.call("getAssets", opts, false, () => {
      const list = parseInput(SymbolsSchema, symbols, "symbols");
      const out: AssetRules[] = [];
      for (const s of new Set(list)) {
        const a = this.assets.get(s);
        if (a !== undefined) out.push({ ...a });
      }
      return () => out;
    });
  }

  getLatestPrices(symbols: readonly string[], opts?: CallOptions): Promise<Map<string, Decimal>> {
    return this.call("getLatestPrices", opts, false, () => {
      const list = parseInput(SymbolsSchema, symbols, "symbols");
      const out = new Map<string, Decimal>();
      for (const s of list) {
        const p = this.prices.get(s);
        if (p !== undefined) out.set(s, p);
      }
      return () => out;
    });
  }

  getClock(opts?: CallOptions): Promise<MarketClock> {
    return this.call("getClock", opts, false, () => {
      const now = this.clock.now();
      const isOpenNow = this.marketOpen;
      const close = nextUtcWeekdayAt(now, 21, 0);
      let open = nextUtcWeekdayAt(now, 14, 30);
      if (isOpenNow && open < close) open = nextUtcWeekdayAt(close, 14, 30);
      return () => ({
        isOpen: isOpenNow,
        nextOpen: new Date(open),
        nextClose: new Date(close),
        asOf: new Date(now),
      });
    });
  }

  getOrder(orderId: string, opts?: CallOptions): Promise<OrderSnapshot | null> {
    return this.call("getOrder", opts, false, () => {
      const id = parseInput(IdSchema, orderId, "orderId");
      const o = this.byId.get(id);
      const snap = o !== undefined && this.visible(o) ? this.snap(o) : null;
      return () => snap;
    });
  }

  getOrderByClientOrderId(clientOrderId: string, opts?: CallOptions): Promise<OrderSnapshot | null> {
    return this.call("getOrderByClientOrderId", opts, false, () => {
      const id = parseInput(IdSchema, clientOrderId, "clientOrderId");
      const o = this.byClientId.get(id);
      const snap = o !== undefined && this.visible(o) ? this.snap(o) : null;
      return () => snap;
    });
  }

  listOpenOrders(opts?: CallOptions): Promise<OrderSnapshot[]> {
    return this.call("listOpenOrders", opts, false, () => {
      const list = [...this.openOrders].filter((o) => isOpen(o) && this.visible(o)).map((o) => this.snap(o));
      return () => list;
    });
  }

  // ---------------------------------------------------------------- BrokerPort: writes

  submitOrder(request: OrderRequest, opts?: CallOptions): Promise<OrderSnapshot> {
    return this.call("submitOrder", opts, true, () => {
      const o = this.place(request, "submitOrder");
      return () => this.snap(o);
    });
  }

  cancelOrder(orderId: string, opts?: CallOptions): Promise<void> {
    return this.call("cancelOrder", opts, true, () => {
      const id = parseInput(IdSchema, orderId, "orderId");
      const o = this.byId.get(id);
      const refused = cancelRefusal(id, o?.status);
      if (refused !== undefined) throw refusalError(refused);
      if (o !== undefined && o.status !== "pending_cancel") this.requestCancel(o);
      return () => undefined;
    });
  }

  closePosition(symbol: string, opts?: CallOptions): Promise<OrderSnapshot> {
    return this.call("closePosition", opts, true, () => {
      const s = parseInput(SymbolSchema, symbol, "symbol");
      const qty = this.positions.get(s)?.qty ?? ZERO;
      const refused = closeRefusal(s, qty, this.sellHeld(s));
      if (refused !== undefined) throw refusalError(refused);
      let clientOrderId: string;
      do {
        clientOrderId = `sim-close-${this.seed}-${++this.closeCounter}`;
      } while (this.usedClientIds.has(clientOrderId));
      const o = this.place(
        { clientOrderId, symbol: s, side: "sell", type: "market", timeInForce: "day", qty },
        "closePosition",
      );
      return () => this.snap(o);
    });
  }

  subscribeOrderUpdates(listener: OrderUpdateListener): Subscription {
    if (typeof listener !== "object" || listener === null || typeof listener.onUpdate !== "function") {
      throw parseInputError("listener", "expected an object with onUpdate()", listener);
    }
    return this.stream.subscribe(listener);
  }

  // ---------------------------------------------------------------- the call pipeline

  private async call<T>(
    method: BrokerMethod,
    opts: CallOptions | undefined,
    write: boolean,
    effect: () => () => T,
  ): Promise<T> {
    this.counts[method]++;
    const signal = opts?.signal;
    throwIfAborted(signal);
    this.log.record("call", { method });
    const errorFault = this.faults.take(REST_ERROR_FAULTS, method);
    const spike = this.faults.take(["latency_spike"], method);
    const delayMs =
      this.restMs + (spike === undefined ? 0 : faultNumber(spike, "ms", FAULT_DEFAULTS.latency_spike.ms));
    if (errorFault !== undefined && errorFault.kind !== "ambiguous") {
      await this.awaitReply(method, delayMs, signal, write);
      if (errorFault.kind === "rate_limited") {
        const retryAfterMs = faultNumber(
          errorFault,
          "retryAfterMs",
          FAULT_DEFAULTS.rate_limited.retryAfterMs,
        );
        throw brokerError("rate_limited", "rate limit exceeded", "42910000", { method }, { retryAfterMs });
      }
      throw brokerError("unavailable", "service unavailable", undefined, { method });
    }
    let reply: (() => T) | undefined;
    let refusal: unknown;
    try {
      reply = effect();
    } catch (e) {
      refusal = e;
    }
    await this.awaitReply(method, delayMs, signal, write);
    if (errorFault?.kind === "ambiguous") {
      throw brokerError("ambiguous", "the connection was lost before the reply", undefined, { method });
    }
    if (reply === undefined) throw refusal;
    return reply();
  }

  /** Waits for the reply; an abort meanwhile is `ambiguous` for a write, the abort reason for a read. */
  private async awaitReply(
    method: BrokerMethod,
    ms: number,
    signal: AbortSignal | undefined,
    write: boolean,
  ): Promise<void> {
    let aborted: { reason: unknown } | undefined;
    try {
      if (ms > 0) await this.clock.sleep(ms, signal);
      else await undefined;
    } catch (e) {
      aborted = { reason: e };
    }
    if (aborted === undefined && signal?.aborted) aborted = { reason: abortReason(signal) };
    if (aborted === undefined) return;
    if (write) {
      throw brokerError(
        "ambiguous",
        `${method} aborted in flight`,
        undefined,
        { method },
        { cause: aborted.reason },
      );
    }
    throw aborted.reason;
  }

  // ---------------------------------------------------------------- orders

  /** Places an order: the request is parsed, judged by the venue rules, then taken. */
  private place(raw: OrderRequest, via: "submitOrder" | "closePosition"): SimOrder {
    const request = this.parseRequest(raw);
    const refused = admissionRefusal(this.admission(request, via));
    if (refused !== undefined) throw this.refuse(request, refused);
    return this.accept(request, via);
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

  /** What the venue rules judge a request by: the request and the account state now. */
  private admission(request: OrderRequest, via: "submitOrder" | "closePosition"): Admission {
    return {
      request,
      via,
      clientOrderIdUsed: this.usedClientIds.has(request.clientOrderId),
      asset: this.assets.get(request.symbol),
      price: this.prices.get(request.symbol),
      openOrders: [...this.openOrders].filter(isOpen),
      position: this.positions.get(request.symbol)?.qty ?? ZERO,
      sellHeld: this.sellHeld(request.symbol),
      buyingPower: this.cash.minus(this.buyHold()),
      marketBuyBuffer: this.buyBuffer,
    };
  }

  /** A refused order is kept (status `rejected`, known to no lookup) and the refusal thrown. */
  private refuse(request: OrderRequest, refused: Refusal): BrokerError {
    const o = this.newOrder(request, "rejected", false);
    o.rejectReason = refused.message;
    this.allOrders.push(o);
    this.log.record("refused", { code: refused.code, orderId: o.id, clientOrderId: request.clientOrderId });
    return refusalError(refused, { symbol: request.symbol });
  }

  /** Takes an order: it holds shares or cash from now, and is acknowledged (or queued until the open). */
  private accept(req: OrderRequest, via: "submitOrder" | "closePosition"): SimOrder {
    const queued = queuedUntilOpen(req, this.marketOpen);
    const o = this.newOrder(req, queued ? "accepted" : "pending_new", true);
    if (req.side === "sell") o.sellReserve = sellQuantity(req, this.prices.get(req.symbol)) ?? ZERO;
    this.allOrders.push(o);
    this.openOrders.add(o);
    this.byId.set(o.id, o);
    this.byClientId.set(o.clientOrderId, o);
    this.usedClientIds.add(o.clientOrderId);
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
      if (this.restMs <= 0) this.ack(o);
      else scheduleOn(this.clock, this.restMs, () => this.ack(o));
    }
    return o;
  }

  private newOrder(req: OrderRequest, status: BrokerOrderStatus, live: boolean): SimOrder {
    const now = this.clock.now();
    return {
      id: uuid(this.idRandom),
      clientOrderId: req.clientOrderId,
      symbol: req.symbol,
      side: req.side,
      type: req.type,
      timeInForce: req.timeInForce,
      qty: req.qty,
      notional: req.notional,
      limitPrice: req.limitPrice,
      extendedHours: req.extendedHours === true,
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

  private buyHold(): Decimal {
    let total = ZERO;
    for (const o of this.openOrders) {
      if (!isOpen(o) || o.side !== "buy") continue;
      if (o.notional !== undefined) total = total.plus(Decimal.max(ZERO, o.notional.minus(o.filledValue)));
      else if (o.qty !== undefined) {
        total = total.plus(buyHold(o, o.qty.minus(o.filledQty), this.prices.get(o.symbol), this.buyBuffer));
      }
    }
    return total;
  }

  private sellHeld(symbol: string): Decimal {
    let total = ZERO;
    for (const o of this.openOrders) {
      if (!isOpen(o) || o.side !== "sell" || o.symbol !== symbol) continue;
      total = total.plus(Decimal.max(ZERO, o.sellReserve.minus(o.filledQty)));
    }
    return total;
  }

  private visible(o: SimOrder): boolean {
    return o.live && this.clock.now() >= o.visibleAt;
  }

  private snap(o: SimOrder): OrderSnapshot {
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

  private setStatus(o: SimOrder, status: BrokerOrderStatus, event: OrderUpdateEvent, fill?: OrderFill): void {
    o.status = status;
    o.updatedAt = this.clock.now();
    if (isFinalBrokerStatus(status)) this.openOrders.delete(o);
    this.emit(o, event, fill);
  }

  private ack(o: SimOrder): void {
    if (o.status !== "pending_new" && o.status !== "accepted") return;
    this.setStatus(o, "new", "new");
    if (o.pendingReject !== undefined) {
      const reason = o.pendingReject;
      scheduleOn(this.clock, this.fillMs, () => {
        if (!isOpen(o)) return;
        this.stopFills(o);
        o.rejectReason = reason;
        this.setStatus(o, "rejected", "rejected");
        this.recordState();
      });
      return;
    }
    if ((o.timeInForce === "ioc" || o.timeInForce === "fok") && !this.marketable(o)) {
      this.setStatus(o, "canceled", "canceled");
      this.recordState();
      return;
    }
    this.work(o);
  }

  private marketable(o: SimOrder): boolean {
    const price = this.prices.get(o.symbol);
    if (price === undefined) return false;
    if (o.type === "market") return true;
    const limit = o.limitPrice as Decimal;
    return o.side === "buy" ? price.lte(limit) : price.gte(limit);
  }

  /** Schedules the next fill of a working order when it can fill. */
  private work(o: SimOrder): void {
    if (!isOpen(o) || o.status === "accepted" || o.status === "pending_new") return;
    if (o.cancelFill !== undefined || o.pendingReject !== undefined) return;
    if (!this.marketOpen && !o.extendedHours) return;
    if (!this.marketable(o)) return;
    o.cancelFill = scheduleOn(this.clock, this.fillMs, () => {
      o.cancelFill = undefined;
      this.fillStep(o, false);
    });
  }

  private stopFills(o: SimOrder): void {
    o.cancelFill?.();
    o.cancelFill = undefined;
  }

  private fillPrice(o: SimOrder): Decimal | undefined {
    const price = this.prices.get(o.symbol);
    if (price === undefined) return undefined;
    const slip = new Decimal(this.slippageBps).div(10_000);
    let p = (
      o.side === "buy" ? price.times(slip.plus(1)) : price.times(new Decimal(1).minus(slip))
    ).toDecimalPlaces(4, Rounding.halfUp);
    if (o.limitPrice !== undefined) {
      p = o.side === "buy" ? Decimal.min(p, o.limitPrice) : Decimal.max(p, o.limitPrice);
    }
    return p;
  }

  private fillStep(o: SimOrder, late: boolean): void {
    if (!late) {
      if (!isOpen(o)) return;
      if (!this.marketOpen && !o.extendedHours) return;
      if (!this.marketable(o)) return;
    }
    const price = this.fillPrice(o);
    if (price === undefined) return;
    if (o.partsLeft === undefined) {
      o.partsLeft =
        !late && this.partialProbability > 0 && this.fillRandom() < this.partialProbability
          ? this.partialParts
          : 1;
    }
    const parts = late ? 1 : o.partsLeft;
    const increment = this.assets.get(o.symbol)?.qtyIncrement ?? DEFAULT_INCREMENT;
    let qty: Decimal;
    if (o.qty !== undefined) {
      const rest = o.qty.minus(o.filledQty);
      qty = parts > 1 ? floorToIncrement(rest.div(parts), increment) : rest;
      if (qty.lte(0)) qty = rest;
    } else {
      const restValue = (o.notional as Decimal).minus(o.filledValue);
      const value = parts > 1 ? restValue.div(parts) : restValue;
      qty = floorToIncrement(value.div(price), DEFAULT_INCREMENT);
      if (o.filledValue.plus(qty.times(price)).gt(o.notional as Decimal)) qty = qty.minus(DEFAULT_INCREMENT);
    }
    // A position that shrank under an open sell (an outside trade) fills what is left, and the
    // rest is canceled: the broker never sells short.
    let short = false;
    if (o.side === "sell") {
      const held = this.positions.get(o.symbol)?.qty ?? ZERO;
      if (qty.gt(held)) {
        qty = held;
        short = true;
      }
    }
    o.partsLeft = late ? 0 : o.partsLeft - 1;
    const done = !short && (o.qty !== undefined ? o.filledQty.plus(qty).gte(o.qty) : o.partsLeft <= 0);
    if (qty.lte(0)) {
      if (done && o.filledQty.gt(0)) this.setStatus(o, "filled", "fill");
      else if (done || short) this.setStatus(o, "canceled", "canceled");
      else this.work(o);
      this.recordState();
      return;
    }
    const executionId = uuid(this.idRandom);
    o.filledQty = o.filledQty.plus(qty);
    o.filledValue = o.filledValue.plus(qty.times(price));
    this.applyTrade(o.symbol, o.side === "buy" ? qty : qty.negated(), price);
    this.log.record("fill", {
      orderId: o.id,
      executionId,
      symbol: o.symbol,
      side: o.side,
      qty: qty.toString(),
      price: price.toString(),
      late,
    });
    const status: BrokerOrderStatus = done
      ? "filled"
      : o.status === "pending_cancel"
        ? "pending_cancel"
        : "partially_filled";
    this.setStatus(o, status, done ? "fill" : "partial_fill", { qty, price, executionId });
    if (short) this.setStatus(o, "canceled", "canceled");
    this.recordState();
    if (!done && !short) this.work(o);
  }

  private applyTrade(symbol: string, qtyDelta: Decimal, price: Decimal): void {
    this.cash = this.cash.minus(qtyDelta.times(price));
    const p = this.positions.get(symbol);
    const before = p?.qty ?? ZERO;
    const after = before.plus(qtyDelta);
    if (after.isZero()) {
      this.positions.delete(symbol);
      return;
    }
    let avg = p?.avgEntryPrice ?? price;
    if (qtyDelta.gt(0)) avg = before.times(avg).plus(qtyDelta.times(price)).div(after).toDecimalPlaces(9);
    this.positions.set(symbol, { qty: after, avgEntryPrice: avg });
  }

  private requestCancel(o: SimOrder): void {
    const fault = this.faults.take(["stuck_pending_cancel", "fill_after_cancel"]);
    this.setStatus(o, "pending_cancel", "pending_cancel");
    if (fault?.kind === "stuck_pending_cancel") return;
    const lateFill = fault?.kind === "fill_after_cancel";
    // The cancel lands one REST latency after the reply: the caller sees `pending_cancel` first.
    scheduleOn(this.clock, 2 * this.restMs, () => {
      if (isFinalBrokerStatus(o.status)) return;
      this.stopFills(o);
      this.setStatus(o, "canceled", "canceled");
      this.recordState();
      if (lateFill) scheduleOn(this.clock, this.fillMs, () => this.fillStep(o, true));
    });
  }

  // ---------------------------------------------------------------- stream

  private emit(o: SimOrder, event: OrderUpdateEvent, fill?: OrderFill): void {
    const update: OrderUpdate = { event, order: this.snap(o), at: new Date(this.clock.now()) };
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

  // ---------------------------------------------------------------- state history (stale reads)

  private stateNow(): StateRecord {
    const positions = new Map<string, PositionState>();
    const sellHeld = new Map<string, Decimal>();
    for (const [s, p] of this.positions) {
      positions.set(s, { ...p });
      sellHeld.set(s, this.sellHeld(s));
    }
    return {
      at: this.clock.now(),
      cash: this.cash,
      positions,
      sellHeld,
      buyHold: this.buyHold(),
      prices: new Map(this.prices),
    };
  }

  private recordState(): void {
    this.history.capture(this.stateNow());
  }

  private readState(method: StaleReadMethod): StateRecord {
    this.recordState();
    const stale = this.faults.take(["stale_reads"], method);
    if (stale === undefined) return this.history.latest();
    return this.history.asOf(this.clock.now() - faultNumber(stale, "ms", FAULT_DEFAULTS.stale_reads.ms));
  }

  private defaultAsset(symbol: string): AssetRules {
    return {
      symbol,
      tradable: D.asset.tradable,
      fractionable: D.asset.fractionable,
      qtyIncrement: DEFAULT_INCREMENT,
      minNotional: new Decimal(D.asset.minNotional),
    };
  }
}

function parseInputError(path: string, message: string, value: unknown): ValidationError {
  return new ValidationError(`invalid ${path}: ${message}`, { issues: [{ path, message, value }] });
}

/**
 * Creates a deterministic simulated broker: the whole `BrokerPort` with Alpaca's rules
 * (buying power, quantity available, wash trades, fractional rules, unique client order
 * ids), fills on the injected clock, and seeded or scripted faults.
 *
 * @param options - see {@link SimulatedBrokerOptions}; every field optional
 * @returns the broker, with controls (`setPrice`, `setMarketOpen`, `script`, `outsideTrade`)
 *   and inspection (`orders`, `calls`, `eventLog`, `truth`)
 * @throws ValidationError (`validation`) for bad options (an unknown key, a negative cash, a
 *   position without a price, a probability above 1, ...)
 * @remarks
 * Replies, acks, fills, cancels and stream deliveries run on `options.clock`: on a
 * `VirtualClock` nothing moves until the clock is advanced (`clock.run(work)`,
 * `clock.advance(ms)`, `clock.runUntilIdle()`). A REST call with zero latency replies without
 * waiting for the clock. Every error it throws carries the broker code Alpaca would send
 * (`brokerCode`) and the HTTP status (`details.httpStatus`). Same seed, same options and
 * same calls give the same event log, byte for byte.
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const broker = createSimulatedBroker({ clock, cash: 10_000, prices: { SPY: 500 } });
 * const order = await broker.submitOrder({
 *   clientOrderId: "a1", symbol: "SPY", side: "buy", type: "market", timeInForce: "day", qty: new Decimal(2),
 * });
 * await clock.runUntilIdle(); // the order fills
 * ```
 */
export function createSimulatedBroker(options: SimulatedBrokerOptions = {}): SimulatedBroker {
  return new SimulatedBrokerImpl(options);
}
