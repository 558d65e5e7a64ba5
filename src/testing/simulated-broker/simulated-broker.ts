// The simulated broker: a BrokerPort over a simulated venue, in one folder of small parts.
//   simulated-broker.ts  the public interface, input checks, the BrokerPort methods
//   options.ts           options, their schema, SIMULATED_BROKER_DEFAULTS, simSettings()
//   call-pipeline.ts     every call: count, REST faults, latency, abort rules
//   venue.ts             the order lifecycle between the parts below
//   venue-rules.ts       what the venue refuses and how Alpaca says it (VENUE_RULES)
//   order-book.ts        every order, lookups, what open orders hold
//   holdings.ts          cash and positions
//   market.ts            assets, prices, quotes, the session
//   quote-model.ts       the seeded quote model (option quotes): a walking mid, a spread, read faults
//   fill-engine.ts       when and how orders fill
//   fault-plan.ts        scripted and seeded faults
//   update-stream.ts     subscriptions and stream faults
//   state-history.ts     past states, for reads that lag
//   event-log.ts         the log of everything (compared byte for byte by the golden tests)
//   read-lag.ts          how far position and account reads lag fills (option readLag, fault read_lag)
// Reads that lag: Venue.readState answers from StateHistory.asOf(now - delay). The order
// history (listOrders) is OrderBook.history: live orders only, newest first.
// Quotes: Market answers the true quote (FillEngine fills buys at the ask, sells at the bid)
// and the quote a read sees (maybe stale, crossed or missing). A replace is Venue.replace: the
// new order is judged by VENUE_RULES as if the old one were gone, then the old one ends
// `replaced`.

import { z } from "zod";
import type {
  AccountSnapshot,
  AssetRules,
  BrokerCapabilities,
  BrokerPort,
  CallOptions,
  ListOrdersQuery,
  MarketClock,
  OrderRequest,
  OrderSnapshot,
  OrderUpdateListener,
  PositionSnapshot,
  Quote,
  ReplaceOrderChanges,
  Subscription,
} from "../../broker/broker-port.js";
import { parseListOrdersQuery, parseReplaceOrderChanges } from "../../broker/schemas.js";
import type { Clock } from "../../core/clock.js";
import type { Decimal, DecimalLike } from "../../core/decimal.js";
import { isValidationError, ValidationError } from "../../core/errors.js";
import { parseInput, zDecimal, zPositiveDecimal, zSymbol } from "../../core/validation.js";
import { brokerError } from "./broker-errors.js";
import { CallPipeline } from "./call-pipeline.js";
import type { SimEvent } from "./event-log.js";
import { assetWith, marketClockAt } from "./market.js";
import {
  AssetOverrideSchema,
  type BrokerMethod,
  type ReplyCorruptionScript,
  ReplyCorruptionScriptSchema,
  type ScriptedFault,
  ScriptedFaultSchema,
  type SimulatedBrokerOptions,
  simSettings,
} from "./options.js";
import { isOpen, snapshotOf } from "./order-book.js";
import { ReplyCorruptions } from "./reply-corruption.js";
import { accountIn, positionIn, positionsIn } from "./state-history.js";
import { Venue } from "./venue.js";

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
  /**
   * Changes a symbol's trading rules from now on (what is left out is the default, as in the
   * `assets` option): orders already placed are not touched; the next submit meets the new
   * rules.
   *
   * @throws ValidationError (`validation`) for a bad symbol or rule
   * @example
   * ```ts
   * broker.setAssetRules("AAA", { fractionable: false });
   * ```
   */
  setAssetRules(
    symbol: string,
    rules: {
      tradable?: boolean;
      fractionable?: boolean;
      qtyIncrement?: DecimalLike;
      minNotional?: DecimalLike;
    },
  ): void;
  /** Opens or closes the market. Opening works the orders queued as `accepted`; closing expires working `day` orders. */
  setMarketOpen(open: boolean): void;
  /**
   * Queues a fault for the next matching call or event.
   *
   * @throws ValidationError (`validation`) for an unknown kind or bad parameters
   */
  script(fault: ScriptedFault): void;
  /**
   * Spoils the reply of the next `times` (default 1) `submitOrder` / `closePosition` calls
   * (or only `method`) as `change` says; the order itself is placed as asked. For testing
   * what a client does with a malformed or mismatched answer to a write.
   *
   * @param script - `{ method?, change, times? }`, `change` one of `REPLY_CORRUPTIONS`
   * @throws ValidationError (`validation`) for an unknown change or bad parameters
   * @example
   * ```ts
   * broker.corruptReplies({ method: "submitOrder", change: "size_x10" });
   * ```
   */
  corruptReplies(script: ReplyCorruptionScript): void;
  /** Drops every subscription's connection now for `downMs` (disconnected → reconnecting → connected). */
  disconnectStream(downMs: number): void;
  /**
   * Reads the order history: every live order (an order refused at submit is not one),
   * newest first by submission time; `status` open by default, `after` / `until` exclusive.
   * Counted and faulted like every call; a fresh order hidden by `not_found_lag` is missing
   * here too.
   *
   * @throws ValidationError (`validation`) for a bad query
   */
  listOrders(query: ListOrdersQuery, opts?: CallOptions): Promise<OrderSnapshot[]>;
  /**
   * Reads the latest quotes: the quote model's (possibly stale, crossed or missing, by its
   * seeded read faults), or without one the last price as bid and ask. Counted and faulted
   * like every call.
   *
   * @throws ValidationError (`validation`) for a bad symbol list
   */
  getLatestQuotes(symbols: readonly string[], opts?: CallOptions): Promise<Map<string, Quote>>;
  /**
   * Replaces a working order as Alpaca does: a new order with a new id (the client order id
   * given, else `sim-replace-…`), the old one `replaced` with its fills kept; without `qty`
   * the new order takes the old one's rest. A `fill_before_replace` fault fills the rest
   * first and refuses the replace; an `ambiguous` fault on `replaceOrder` replaces and loses
   * the reply.
   *
   * @throws BrokerError (`not_found`, `not_cancelable`, `invalid_order`, and every refusal of a new order)
   */
  replaceOrder(orderId: string, changes: ReplaceOrderChanges, opts?: CallOptions): Promise<OrderSnapshot>;
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
   * A position (and cash) changes with no order of ours: a trade made elsewhere (another app
   * or process on the account). The order history (`listOrders`, lookups by id) shows it as a
   * filled market order with the ids `elsewhere-N`, as a broker's would; `orders()` does not.
   *
   * @param symbol - the symbol (created if unknown)
   * @param qtyDelta - shares added (negative: removed)
   * @param price - the trade price; default the current price
   * @throws ValidationError (`validation`) for bad input, a missing price, or a position that would go negative
   */
  outsideTrade(symbol: string, qtyDelta: DecimalLike, price?: DecimalLike): void;
}

const SetPriceSchema = z.object({ symbol: zSymbol, price: zPositiveDecimal }).strict();
const OutsideTradeSchema = z
  .object({ symbol: zSymbol, qtyDelta: zDecimal, price: zPositiveDecimal.optional() })
  .strict();
const SymbolSchema = zSymbol;
const SymbolsSchema = z.array(zSymbol);
const IdSchema = z.string().min(1);
const MsSchema = z.number().finite().min(0);

/**
 * The `BrokerPort` face of the venue: each call checks its input, runs through the call
 * pipeline (count, faults, latency, abort) and reads or changes the venue.
 */
class SimulatedBrokerImpl implements SimulatedBroker {
  readonly id: string;
  readonly capabilities: BrokerCapabilities = Object.freeze({
    fractional: true,
    notionalOrders: true,
    closePosition: true,
    orderUpdates: true,
    orderHistory: true,
    quotes: true,
    replace: true,
  });
  readonly clock: Clock;
  private readonly venue: Venue;
  private readonly pipeline: CallPipeline;
  private readonly corruptions: ReplyCorruptions;

  constructor(options: SimulatedBrokerOptions) {
    const settings = simSettings(options);
    this.id = settings.id;
    this.clock = settings.clock;
    this.venue = new Venue(settings);
    this.pipeline = new CallPipeline(this.clock, this.venue.log, this.venue.faults, settings.restMs);
    this.corruptions = new ReplyCorruptions(this.venue.log);
  }

  // ---------------------------------------------------------------- inspection and controls

  get calls(): Readonly<Record<BrokerMethod, number>> {
    return this.pipeline.calls;
  }

  totalCalls(): number {
    return this.pipeline.total();
  }

  resetCalls(): void {
    this.pipeline.reset();
  }

  eventLog(): readonly SimEvent[] {
    return this.venue.log.list();
  }

  orders(): OrderSnapshot[] {
    return this.venue.book.list().map(snapshotOf);
  }

  findOrder(idOrClientOrderId: string): OrderSnapshot | undefined {
    const o = this.venue.book.get(idOrClientOrderId) ?? this.venue.book.getByClientOrderId(idOrClientOrderId);
    return o === undefined ? undefined : snapshotOf(o);
  }

  truth(): SimTruth {
    const positions = new Map<string, Decimal>();
    for (const [s, p] of this.venue.holdings.entries()) positions.set(s, p.qty);
    return { cash: this.venue.holdings.cash, positions };
  }

  setPrice(symbol: string, price: DecimalLike): void {
    const input = parseInput(SetPriceSchema, { symbol, price }, "setPrice");
    this.venue.setPrice(input.symbol, input.price);
  }

  setAssetRules(
    symbol: string,
    rules: {
      tradable?: boolean;
      fractionable?: boolean;
      qtyIncrement?: DecimalLike;
      minNotional?: DecimalLike;
    },
  ): void {
    const s = parseInput(zSymbol, symbol, "symbol");
    const r = parseInput(AssetOverrideSchema, rules, "rules");
    this.venue.market.list(assetWith(s, r));
  }

  setMarketOpen(open: boolean): void {
    this.venue.setMarketOpen(parseInput(z.boolean(), open, "open"));
  }

  script(fault: ScriptedFault): void {
    this.venue.faults.script(parseInput(ScriptedFaultSchema, fault, "fault"));
  }

  corruptReplies(script: ReplyCorruptionScript): void {
    this.corruptions.add(parseInput(ReplyCorruptionScriptSchema, script, "script"));
  }

  disconnectStream(downMs: number): void {
    this.venue.stream.disconnect(parseInput(MsSchema, downMs, "downMs"));
  }

  outsideTrade(symbol: string, qtyDelta: DecimalLike, price?: DecimalLike): void {
    const input = parseInput(
      OutsideTradeSchema,
      price === undefined ? { symbol, qtyDelta } : { symbol, qtyDelta, price },
      "outsideTrade",
    );
    const tradePrice = input.price ?? this.venue.market.price(input.symbol);
    if (tradePrice === undefined) {
      throw parseInputError("outsideTrade.price", "expected a price (the symbol has none)", price);
    }
    if (this.venue.holdings.qty(input.symbol).plus(input.qtyDelta).isNegative()) {
      throw parseInputError(
        "outsideTrade.qtyDelta",
        "the position would go negative",
        input.qtyDelta.toString(),
      );
    }
    this.venue.outsideTrade(input.symbol, input.qtyDelta, tradePrice);
  }

  // ---------------------------------------------------------------- BrokerPort: reads

  getAccount(opts?: CallOptions): Promise<AccountSnapshot> {
    return this.pipeline.run("getAccount", opts, false, () => {
      const account = accountIn(this.venue.readState("getAccount"), new Date(this.clock.now()));
      return () => account;
    });
  }

  getPositions(opts?: CallOptions): Promise<PositionSnapshot[]> {
    return this.pipeline.run("getPositions", opts, false, () => {
      const list = positionsIn(this.venue.readState("getPositions"));
      return () => list;
    });
  }

  getPosition(symbol: string, opts?: CallOptions): Promise<PositionSnapshot | null> {
    return this.pipeline.run("getPosition", opts, false, () => {
      const s = parseInput(SymbolSchema, symbol, "symbol");
      const p = positionIn(this.venue.readState("getPosition"), s);
      return () => p;
    });
  }

  getAssets(symbols: readonly string[], opts?: CallOptions): Promise<AssetRules[]> {
    return this.pipeline.run("getAssets", opts, false, () => {
      const list = parseInput(SymbolsSchema, symbols, "symbols");
      const out: AssetRules[] = [];
      for (const s of new Set(list)) {
        const a = this.venue.market.asset(s);
        if (a !== undefined) out.push({ ...a });
      }
      return () => out;
    });
  }

  getLatestPrices(symbols: readonly string[], opts?: CallOptions): Promise<Map<string, Decimal>> {
    return this.pipeline.run("getLatestPrices", opts, false, () => {
      const list = parseInput(SymbolsSchema, symbols, "symbols");
      const out = new Map<string, Decimal>();
      for (const s of list) {
        const p = this.venue.market.price(s);
        if (p !== undefined) out.set(s, p);
      }
      return () => out;
    });
  }

  getClock(opts?: CallOptions): Promise<MarketClock> {
    return this.pipeline.run("getClock", opts, false, () => {
      const clock = marketClockAt(this.clock.now(), this.venue.market.isOpen);
      return () => clock;
    });
  }

  getOrder(orderId: string, opts?: CallOptions): Promise<OrderSnapshot | null> {
    return this.pipeline.run("getOrder", opts, false, () => {
      const o = this.venue.book.get(parseInput(IdSchema, orderId, "orderId"));
      const snap = o !== undefined && this.venue.visible(o) ? snapshotOf(o) : null;
      return () => snap;
    });
  }

  getOrderByClientOrderId(clientOrderId: string, opts?: CallOptions): Promise<OrderSnapshot | null> {
    return this.pipeline.run("getOrderByClientOrderId", opts, false, () => {
      const o = this.venue.book.getByClientOrderId(parseInput(IdSchema, clientOrderId, "clientOrderId"));
      const snap = o !== undefined && this.venue.visible(o) ? snapshotOf(o) : null;
      return () => snap;
    });
  }

  listOpenOrders(opts?: CallOptions): Promise<OrderSnapshot[]> {
    return this.pipeline.run("listOpenOrders", opts, false, () => {
      const list = this.venue.book
        .openOrders()
        .filter((o) => isOpen(o) && this.venue.visible(o))
        .map(snapshotOf);
      return () => list;
    });
  }

  listOrders(query: ListOrdersQuery, opts?: CallOptions): Promise<OrderSnapshot[]> {
    return this.pipeline.run("listOrders", opts, false, () => {
      const list = this.venue.book
        .history(parseListOrdersQuery(query), (o) => this.venue.visible(o))
        .map(snapshotOf);
      return () => list;
    });
  }

  getLatestQuotes(symbols: readonly string[], opts?: CallOptions): Promise<Map<string, Quote>> {
    return this.pipeline.run("getLatestQuotes", opts, false, () => {
      const list = parseInput(SymbolsSchema, symbols, "symbols");
      const out = new Map<string, Quote>();
      for (const s of new Set(list)) {
        const q = this.venue.market.readQuote(s);
        if (q !== undefined) out.set(s, q);
      }
      return () => out;
    });
  }

  // ---------------------------------------------------------------- BrokerPort: writes

  replaceOrder(orderId: string, changes: ReplaceOrderChanges, opts?: CallOptions): Promise<OrderSnapshot> {
    return this.pipeline.run("replaceOrder", opts, true, () => {
      const id = parseInput(IdSchema, orderId, "orderId");
      const o = this.venue.replace(id, this.replaceChanges(changes));
      return () => snapshotOf(o);
    });
  }

  /** The changes through their schema; bad ones are refused as Alpaca's 40010001, with nothing changed. */
  private replaceChanges(changes: ReplaceOrderChanges): ReplaceOrderChanges {
    try {
      return parseReplaceOrderChanges(changes);
    } catch (e) {
      if (!isValidationError(e)) throw e;
      throw brokerError("invalid_order", e.message.replace(/^\[ordersafe\]\s*/, ""), "40010001", {
        issues: e.issues.map((i) => ({ path: i.path, message: i.message })),
      });
    }
  }

  submitOrder(request: OrderRequest, opts?: CallOptions): Promise<OrderSnapshot> {
    return this.pipeline.run("submitOrder", opts, true, () => {
      const o = this.venue.place(request, "submitOrder");
      return () => this.corruptions.reply("submitOrder", snapshotOf(o));
    });
  }

  cancelOrder(orderId: string, opts?: CallOptions): Promise<void> {
    return this.pipeline.run("cancelOrder", opts, true, () => {
      this.venue.cancel(parseInput(IdSchema, orderId, "orderId"));
      return () => undefined;
    });
  }

  closePosition(symbol: string, opts?: CallOptions): Promise<OrderSnapshot> {
    return this.pipeline.run("closePosition", opts, true, () => {
      const o = this.venue.closePosition(parseInput(SymbolSchema, symbol, "symbol"));
      return () => this.corruptions.reply("closePosition", snapshotOf(o));
    });
  }

  subscribeOrderUpdates(listener: OrderUpdateListener): Subscription {
    if (typeof listener !== "object" || listener === null || typeof listener.onUpdate !== "function") {
      throw parseInputError("listener", "expected an object with onUpdate()", listener);
    }
    return this.venue.stream.subscribe(listener);
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
