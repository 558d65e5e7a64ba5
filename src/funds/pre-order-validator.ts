import { z } from "zod";
import type {
  AccountSnapshot,
  AssetRules,
  BrokerPort,
  MarketClock,
  OrderSnapshot,
  PositionSnapshot,
} from "../broker/broker-port.js";
import { checkBroker } from "../broker/checked-broker.js";
import {
  AccountSnapshotSchema,
  AssetRulesSchema,
  MarketClockSchema,
  OrderSnapshotSchema,
  PositionSnapshotSchema,
  zBrokerPort,
} from "../broker/schemas.js";
import { type Decimal, type DecimalLike, isMultipleOf, ONE, toDecimal, ZERO } from "../core/decimal.js";
import { OrdersafeError } from "../core/errors.js";
import { parseInput, zNonNegativeDecimal, zPositiveDecimal, zSymbol } from "../core/validation.js";
import type { BuyingPowerManager } from "./buying-power-manager.js";
import { type OrderIntent, type OrderIntentInput, parseOrderIntent } from "./order-intent.js";
import { requiredFunds } from "./required-funds.js";
import {
  FUNDING_BASES,
  type FundingBasis,
  RESERVATION_LEDGER_DEFAULTS,
  ReservationLedger,
} from "./reservation-ledger.js";

/** Every check name, in report order. */
export const PRE_ORDER_CHECKS = [
  "account_active",
  "deny_list",
  "asset_tradable",
  "fractionable",
  "quantity_increment",
  "min_notional",
  "time_in_force",
  "market_open",
  "position_available",
  "buying_power",
  "max_order_notional",
  "max_order_equity_pct",
  "max_position_weight",
  "no_opposite_order",
  "limit_price_band",
] as const;

/** The name of each pre-order check, in the order they are reported. */
export type PreOrderCheckName = (typeof PRE_ORDER_CHECKS)[number];

/** One check's outcome. */
export interface PreOrderCheck {
  /** Which check. */
  name: PreOrderCheckName;
  /** Whether it passed (a check that does not apply passes). */
  ok: boolean;
  /** Why, with the figures. */
  message: string;
}

/** The outcome of {@link PreOrderValidator.validate}: ok when every check passed. */
export interface PreOrderReport {
  /** Every check passed. */
  ok: boolean;
  /** Every check, in {@link PRE_ORDER_CHECKS} order. */
  checks: PreOrderCheck[];
}

/** Risk limits; each is off when absent. */
export interface RiskLimits {
  /** The largest notional of one order. */
  maxOrderNotional?: DecimalLike;
  /** The largest notional of one order as a fraction of equity (0.25 = 25%). */
  maxOrderPctOfEquity?: DecimalLike;
  /** The largest weight of one position after a buy, as a fraction of equity. */
  maxPositionWeight?: DecimalLike;
  /** Symbols never to trade. */
  denyList?: readonly string[];
}

/**
 * The defaults of {@link PreOrderValidator}'s options (see {@link PreOrderValidatorOptions}).
 * With a `buyingPower` manager, the funding basis and the buffer are its ledger's. No risk
 * limit is set by default.
 *
 * @example
 * ```ts
 * PRE_ORDER_VALIDATOR_DEFAULTS.limitPriceBand.toString(); // "0.1"
 * ```
 */
export const PRE_ORDER_VALIDATOR_DEFAULTS = Object.freeze({
  fundingBasis: RESERVATION_LEDGER_DEFAULTS.fundingBasis,
  marketBuyBuffer: RESERVATION_LEDGER_DEFAULTS.marketBuyBuffer,
  allowQueueing: false,
  limitPriceBand: toDecimal("0.1"),
} satisfies Required<Omit<PreOrderValidatorOptions, "broker" | "buyingPower" | "riskLimits">>);

/** Options of {@link PreOrderValidator}. Every default is in {@link PRE_ORDER_VALIDATOR_DEFAULTS}. */
export interface PreOrderValidatorOptions {
  /** Where fresh data is read; wrapped with `checkBroker`. Optional when every context is passed in. */
  broker?: BrokerPort;
  /** Buying power through this manager's ledger; otherwise a ledger recomputed from the open orders. */
  buyingPower?: BuyingPowerManager;
  /**
   * Funding basis when no manager is given.
   * @defaultValue the manager's, else `PRE_ORDER_VALIDATOR_DEFAULTS.fundingBasis`
   */
  fundingBasis?: FundingBasis;
  /**
   * The extra fraction held on a quantity market buy.
   * @defaultValue the manager's, else `PRE_ORDER_VALIDATOR_DEFAULTS.marketBuyBuffer`
   */
  marketBuyBuffer?: DecimalLike;
  /**
   * Whether an order may be sent while the market is closed (the broker queues it).
   * @defaultValue `PRE_ORDER_VALIDATOR_DEFAULTS.allowQueueing`
   */
  allowQueueing?: boolean;
  /**
   * How far a limit price may be from the last price, as a fraction (0.1 = 10%).
   * @defaultValue `PRE_ORDER_VALIDATOR_DEFAULTS.limitPriceBand`
   */
  limitPriceBand?: DecimalLike;
  /** Risk limits. @defaultValue none */
  riskLimits?: RiskLimits;
}

/** Data the caller already has (fresh); whatever is absent is read from the broker. */
export interface PreOrderContext {
  /** The account. */
  account?: AccountSnapshot;
  /** The position in the symbol (`null` for none). */
  position?: PositionSnapshot | null;
  /** The asset's rules. */
  asset?: AssetRules;
  /** The last price. */
  price?: DecimalLike;
  /** The market clock. */
  clock?: MarketClock;
  /** Every open order. */
  openOrders?: readonly OrderSnapshot[];
  /** The buying power available to this order (already net of other reservations). */
  available?: DecimalLike;
}

/** What an order would change. */
export interface OrderImpact {
  /** The price used. */
  price: Decimal;
  /** The order's estimated notional (its notional, or qty × limit or last price). */
  notional: Decimal;
  /** What a buy holds (0 for a sell). */
  required: Decimal;
  /** Buying power available now. */
  buyingPowerBefore: Decimal;
  /** After a buy is placed: before − required; after a sell fills: before + notional. */
  buyingPowerAfter: Decimal;
  /** Shares held now. */
  positionQtyBefore: Decimal;
  /** Shares held once it fills. */
  positionQtyAfter: Decimal;
  /** Account equity. */
  equity: Decimal;
  /** Position value / equity now. */
  weightBefore: Decimal;
  /** Position value / equity once it fills. */
  weightAfter: Decimal;
}

const isFn = (v: unknown, ...names: string[]) =>
  typeof v === "object" && v !== null && names.every((n) => typeof Reflect.get(v, n) === "function");

const OptionsSchema = z
  .object({
    broker: zBrokerPort.optional(),
    buyingPower: z
      .custom<BuyingPowerManager>((v) => isFn(v, "getAvailableBuyingPower", "reserve"), {
        message: "expected a BuyingPowerManager",
      })
      .optional(),
    fundingBasis: z.enum(FUNDING_BASES).optional(),
    marketBuyBuffer: zNonNegativeDecimal.optional(),
    allowQueueing: z.boolean().optional(),
    limitPriceBand: zNonNegativeDecimal.optional(),
    riskLimits: z
      .object({
        maxOrderNotional: zPositiveDecimal.optional(),
        maxOrderPctOfEquity: zPositiveDecimal.optional(),
        maxPositionWeight: zPositiveDecimal.optional(),
        denyList: z.array(zSymbol).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const ContextSchema = z
  .object({
    account: AccountSnapshotSchema.optional(),
    position: PositionSnapshotSchema.nullable().optional(),
    asset: AssetRulesSchema.optional(),
    price: zPositiveDecimal.optional(),
    clock: MarketClockSchema.optional(),
    openOrders: z.array(OrderSnapshotSchema).optional(),
    available: zNonNegativeDecimal.optional(),
  })
  .strict();

/** The risk limits, parsed: each is off when absent. */
interface Limits {
  maxOrderNotional?: Decimal;
  maxOrderPctOfEquity?: Decimal;
  maxPositionWeight?: Decimal;
  /** Upper-cased symbols. */
  denyList: Set<string>;
}

interface Data {
  account: AccountSnapshot;
  position: PositionSnapshot | null;
  asset: AssetRules | undefined;
  price: Decimal | undefined;
  clock: MarketClock;
  openOrders: readonly OrderSnapshot[];
  available: Decimal;
}

/** A context as {@link parseContext} returns it: decimals parsed. */
interface ParsedContext extends Omit<PreOrderContext, "price" | "available"> {
  price?: Decimal;
  available?: Decimal;
}

/**
 * Checks a context. The cast bridges the order schema's output (it types the status as a
 * string) and {@link OrderSnapshot}.
 */
function parseContext(raw: unknown): ParsedContext {
  return parseInput(ContextSchema, raw, "context") as ParsedContext;
}

/**
 * Checks an order against fresh broker data before it is sent: position, buying power
 * through the ledger, asset rules, market hours, risk limits, conflicting orders and the
 * limit price band.
 *
 * @remarks
 * Every check is always reported, in {@link PRE_ORDER_CHECKS} order; a check that does
 * not apply passes with a message saying so. Data comes from the `context` the caller
 * passes, or is read from the broker now (never cached).
 *
 * @example
 * ```ts
 * const v = new PreOrderValidator({ broker, riskLimits: { maxPositionWeight: 0.5 } });
 * const report = await v.validate({ symbol: "TECL", side: "buy", qty: 10, type: "market", timeInForce: "day" });
 * if (!report.ok) console.log(report.checks.filter((c) => !c.ok));
 * ```
 */
export class PreOrderValidator {
  readonly #broker: BrokerPort | undefined;
  readonly #manager: BuyingPowerManager | undefined;
  readonly #fundingBasis: FundingBasis;
  readonly #buffer: Decimal;
  readonly #allowQueueing: boolean;
  readonly #band: Decimal;
  readonly #limits: Limits;

  /**
   * @param options - broker, buying power manager, funding basis, buffer, queueing, band, risk limits
   * @throws ValidationError (`validation`) for an unknown option or a bad value
   */
  constructor(options: PreOrderValidatorOptions = {}) {
    const o = parseInput(OptionsSchema, options, "options");
    this.#broker = o.broker === undefined ? undefined : checkBroker(o.broker);
    this.#manager = o.buyingPower;
    const d = PRE_ORDER_VALIDATOR_DEFAULTS;
    this.#fundingBasis = o.fundingBasis ?? o.buyingPower?.ledger.fundingBasis ?? d.fundingBasis;
    this.#buffer = o.marketBuyBuffer ?? o.buyingPower?.ledger.marketBuyBuffer ?? d.marketBuyBuffer;
    this.#allowQueueing = o.allowQueueing ?? d.allowQueueing;
    this.#band = o.limitPriceBand ?? d.limitPriceBand;
    const r = o.riskLimits ?? {};
    this.#limits = {
      ...(r.maxOrderNotional === undefined ? {} : { maxOrderNotional: r.maxOrderNotional }),
      ...(r.maxOrderPctOfEquity === undefined ? {} : { maxOrderPctOfEquity: r.maxOrderPctOfEquity }),
      ...(r.maxPositionWeight === undefined ? {} : { maxPositionWeight: r.maxPositionWeight }),
      denyList: new Set((r.denyList ?? []).map((s) => s.toUpperCase())),
    };
  }

  /**
   * Runs every check on an order.
   *
   * @param intent - the order
   * @param context - data the caller already has; the rest is read from the broker now
   * @param options - `signal`
   * @returns `{ ok, checks }`
   * @throws ValidationError (`validation`) for a bad intent or context
   * @throws OrdersafeError (`config`) when data is missing and there is no broker to read it from
   * @throws BrokerError (any code) when the broker cannot be read
   * @example
   * ```ts
   * const { ok, checks } = await validator.validate(intent);
   * ```
   */
  async validate(
    intent: OrderIntentInput,
    context: PreOrderContext = {},
    options: { signal?: AbortSignal } = {},
  ): Promise<PreOrderReport> {
    const i = parseOrderIntent(intent);
    const d = await this.#gather(i, context, options.signal);
    const checks = this.#check(i, d);
    return { ok: checks.every((c) => c.ok), checks };
  }

  /**
   * Estimates what an order would change: notional, buying power, position and weight.
   *
   * @param intent - the order
   * @param context - data the caller already has; the rest is read from the broker now
   * @param options - `signal`
   * @returns the {@link OrderImpact}
   * @throws ValidationError (`validation`) for a bad intent or context
   * @throws OrdersafeError (`config`) when data is missing and there is no broker
   * @throws OrdersafeError (`invalid_state`) when the symbol has no price
   * @throws BrokerError (any code) when the broker cannot be read
   * @example
   * ```ts
   * const impact = await validator.estimateOrderImpact(intent);
   * console.log(impact.weightAfter.toString());
   * ```
   */
  async estimateOrderImpact(
    intent: OrderIntentInput,
    context: PreOrderContext = {},
    options: { signal?: AbortSignal } = {},
  ): Promise<OrderImpact> {
    const i = parseOrderIntent(intent);
    const d = await this.#gather(i, context, options.signal);
    if (d.price === undefined) {
      throw new OrdersafeError("invalid_state", `no last price for ${JSON.stringify(i.symbol)}`, {
        details: { symbol: i.symbol },
      });
    }
    const price = d.price;
    const notional = this.#notional(i, price);
    const required = i.side === "buy" ? requiredFunds(i, price, this.#buffer) : ZERO;
    const qty = i.qty ?? notional.div(i.limitPrice ?? price);
    const before = d.position?.qty ?? ZERO;
    const after = i.side === "buy" ? before.plus(qty) : before.minus(qty);
    const equity = d.account.equity;
    const weight = (q: Decimal) => (equity.gt(0) ? q.times(price).div(equity) : ZERO);
    return {
      price,
      notional,
      required,
      buyingPowerBefore: d.available,
      buyingPowerAfter: i.side === "buy" ? d.available.minus(required) : d.available.plus(notional),
      positionQtyBefore: before,
      positionQtyAfter: after,
      equity,
      weightBefore: weight(before),
      weightAfter: weight(after),
    };
  }

  #notional(i: OrderIntent, price: Decimal): Decimal {
    return i.notional ?? (i.qty ?? ZERO).times(i.limitPrice ?? price);
  }

  /** The data of the checks: what the context has, the rest read from the broker now. */
  async #gather(i: OrderIntent, raw: PreOrderContext, signal: AbortSignal | undefined): Promise<Data> {
    const c = parseContext(raw);
    const call = signal === undefined ? undefined : { signal };
    const [account, position, assets, prices, clock, openOrders] = await Promise.all([
      this.#need(c.account, "account", (b) => b.getAccount(call)),
      this.#need(c.position, "position", (b) => b.getPosition(i.symbol, call)),
      this.#need(c.asset === undefined ? undefined : [c.asset], "asset", (b) =>
        b.getAssets([i.symbol], call),
      ),
      this.#need(c.price === undefined ? undefined : new Map([[i.symbol, c.price]]), "price", (b) =>
        b.getLatestPrices([i.symbol], call),
      ),
      this.#need(c.clock, "clock", (b) => b.getClock(call)),
      this.#need(c.openOrders, "openOrders", (b) => b.listOpenOrders(call)),
    ]);
    const price = prices.get(i.symbol);
    const available =
      c.available ??
      (this.#manager !== undefined
        ? await this.#managerAvailable(this.#manager, i, call)
        : await this.#ledgerAvailable(i, account, openOrders, price, call));
    return {
      account,
      position: position ?? null,
      asset: assets.find((a) => a.symbol === i.symbol),
      price,
      clock,
      openOrders,
      available,
    };
  }

  /** A value the context has, or one read from the broker; without a broker, a `config` error. */
  async #need<T>(have: T | undefined, what: string, read: (b: BrokerPort) => Promise<T>): Promise<T> {
    if (have !== undefined) return have;
    if (this.#broker === undefined) {
      throw new OrdersafeError("config", `no ${what} in the context and no broker to read it from`, {
        details: { missing: what },
      });
    }
    return read(this.#broker);
  }

  /** The manager's available buying power, plus this order's own reservation (not counted against itself). */
  async #managerAvailable(
    manager: BuyingPowerManager,
    i: OrderIntent,
    call: { signal: AbortSignal } | undefined,
  ): Promise<Decimal> {
    const available = await manager.getAvailableBuyingPower({ refresh: true, ...(call ?? {}) });
    const own = i.clientOrderId === undefined ? undefined : manager.ledger.get(i.clientOrderId);
    return own === undefined ? available : available.plus(own.remaining);
  }

  /** Without a manager: a ledger recomputed from the other open orders, priced now. */
  async #ledgerAvailable(
    i: OrderIntent,
    account: AccountSnapshot,
    openOrders: readonly OrderSnapshot[],
    price: Decimal | undefined,
    call: { signal: AbortSignal } | undefined,
  ): Promise<Decimal> {
    const ledger = new ReservationLedger({ fundingBasis: this.#fundingBasis, marketBuyBuffer: this.#buffer });
    const symbols = [...new Set(openOrders.map((o) => o.symbol))];
    const openPrices =
      this.#broker !== undefined && symbols.length > 0
        ? await this.#broker.getLatestPrices(symbols, call)
        : new Map(price === undefined ? [] : [[i.symbol, price]]);
    ledger.recompute(
      openOrders.filter((o) => o.clientOrderId !== i.clientOrderId),
      account,
      openPrices,
    );
    return ledger.available(account);
  }

  #check(intent: OrderIntent, data: Data): PreOrderCheck[] {
    const price = data.price;
    const c: CheckContext = {
      intent,
      data,
      sym: intent.symbol,
      price,
      notional: price === undefined ? intent.notional : this.#notional(intent, price),
      fractional: intent.notional !== undefined || (intent.qty !== undefined && !intent.qty.isInteger()),
      limits: this.#limits,
      buffer: this.#buffer,
      allowQueueing: this.#allowQueueing,
      band: this.#band,
    };
    return PRE_ORDER_CHECKS.map((name) => ({ name, ...CHECKS[name](c) }));
  }
}

/** What every check reads: the order, the fresh data, figures derived once, and the settings. */
interface CheckContext {
  readonly intent: OrderIntent;
  readonly data: Data;
  readonly sym: string;
  /** The last price, when known. */
  readonly price: Decimal | undefined;
  /** The order's notional (its own, or qty × limit or last price), when it can be known. */
  readonly notional: Decimal | undefined;
  /** A notional order or a fractional quantity. */
  readonly fractional: boolean;
  readonly limits: Limits;
  readonly buffer: Decimal;
  readonly allowQueueing: boolean;
  readonly band: Decimal;
}

/** One check's verdict (a check that does not apply passes, saying so). */
type Verdict = Omit<PreOrderCheck, "name">;

const verdict = (ok: boolean, pass: string, fail: string): Verdict => ({ ok, message: ok ? pass : fail });

const fmt = (x: Decimal | undefined) => (x === undefined ? "unknown" : x.toString());

/** Every check by name; `#check` runs them in {@link PRE_ORDER_CHECKS} order. */
const CHECKS: Readonly<Record<PreOrderCheckName, (c: CheckContext) => Verdict>> = {
  account_active: ({ data }) =>
    verdict(!data.account.tradingBlocked, "the account may trade", "trading is blocked on the account"),

  deny_list: ({ sym, limits }) =>
    verdict(
      !limits.denyList.has(sym.toUpperCase()),
      `${sym} is not on the deny list`,
      `${sym} is on the deny list`,
    ),

  asset_tradable: ({ sym, data: { asset } }) =>
    asset === undefined
      ? { ok: false, message: `${sym} is not a known asset` }
      : verdict(asset.tradable, `${sym} is tradable`, `${sym} is not tradable`),

  fractionable: ({ sym, fractional, data: { asset } }) => {
    if (asset === undefined) return { ok: false, message: `${sym}: no asset rules` };
    if (!fractional) return { ok: true, message: "whole shares" };
    return verdict(
      asset.fractionable,
      `${sym} is fractionable`,
      `${sym} is not fractionable: whole-share quantity orders only`,
    );
  },

  quantity_increment: ({ sym, intent: { qty }, data: { asset } }) => {
    if (asset === undefined) return { ok: false, message: `${sym}: no asset rules` };
    if (qty === undefined) return { ok: true, message: "a notional order has no quantity increment" };
    const inc = asset.fractionable ? asset.qtyIncrement : asset.qtyIncrement.lt(1) ? ONE : asset.qtyIncrement;
    return verdict(
      isMultipleOf(qty, inc),
      `qty ${qty} is a multiple of ${inc}`,
      `qty ${qty} is not a multiple of the increment ${inc}`,
    );
  },

  min_notional: ({ sym, notional, data: { asset } }) => {
    if (asset === undefined) return { ok: false, message: `${sym}: no asset rules` };
    const min = asset.minNotional;
    if (min === undefined) return { ok: true, message: "no minimum notional" };
    return verdict(
      notional?.gte(min) === true,
      `notional ${fmt(notional)} ≥ minimum ${min}`,
      `notional ${fmt(notional)} is below the minimum ${min}`,
    );
  },

  time_in_force: ({ fractional, intent: { timeInForce } }) =>
    verdict(
      !fractional || timeInForce === "day",
      `time in force ${timeInForce} is allowed`,
      `a fractional or notional order must be "day", not ${JSON.stringify(timeInForce)}`,
    ),

  market_open: ({ allowQueueing, data: { clock } }) => {
    if (clock.isOpen) return { ok: true, message: "the market is open" };
    return verdict(
      allowQueueing,
      `the market is closed; the order will be queued for ${clock.nextOpen.toISOString()}`,
      `the market is closed until ${clock.nextOpen.toISOString()} and queueing is not allowed`,
    );
  },

  position_available: ({ sym, intent, price, data: { position } }) => {
    if (intent.side === "buy") return { ok: true, message: "a buy needs no position" };
    const have = position === null ? ZERO : position.qtyAvailable;
    const notional = intent.notional;
    const want =
      intent.qty ?? (price === undefined || notional === undefined ? undefined : notional.div(price));
    if (want === undefined)
      return { ok: false, message: `${sym}: no price to convert the notional to shares` };
    return verdict(
      want.lte(have),
      `selling ${want} of ${have} available`,
      `selling ${want} but only ${have} of ${sym} is available`,
    );
  },

  buying_power: ({ sym, intent, price, buffer, data: { available } }) => {
    if (intent.side === "sell") return { ok: true, message: "a sell needs no buying power" };
    if (intent.notional === undefined && intent.type === "market" && price === undefined) {
      return { ok: false, message: `${sym}: no last price to hold the market buy at` };
    }
    const required = requiredFunds(intent, price, buffer);
    return verdict(
      required.lte(available),
      `requires ${required} of ${available} available`,
      `requires ${required} but only ${available} is available (short ${required.minus(available)})`,
    );
  },

  max_order_notional: ({ notional, limits: { maxOrderNotional: max } }) => {
    if (max === undefined) return { ok: true, message: "no limit" };
    return verdict(
      notional?.lte(max) === true,
      `notional ${fmt(notional)} ≤ ${max}`,
      `notional ${fmt(notional)} exceeds ${max}`,
    );
  },

  max_order_equity_pct: ({ notional, data, limits: { maxOrderPctOfEquity: max } }) => {
    if (max === undefined) return { ok: true, message: "no limit" };
    const equity = data.account.equity;
    const pct = notional !== undefined && equity.gt(0) ? notional.div(equity) : undefined;
    return verdict(
      pct?.lte(max) === true,
      `order is ${pct} of equity, ≤ ${max}`,
      `order is ${fmt(pct)} of equity ${equity}, above ${max}`,
    );
  },

  max_position_weight: ({ intent, price, notional, data, limits: { maxPositionWeight: max } }) => {
    if (intent.side === "sell") return { ok: true, message: "a sell does not raise the weight" };
    if (max === undefined) return { ok: true, message: "no limit" };
    const equity = data.account.equity;
    const held = data.position?.qty ?? ZERO;
    const value =
      price === undefined || notional === undefined ? undefined : held.times(price).plus(notional);
    const weight = value !== undefined && equity.gt(0) ? value.div(equity) : undefined;
    return verdict(
      weight?.lte(max) === true,
      `position weight after ${weight?.toDecimalPlaces(6)} ≤ ${max}`,
      `position weight after ${fmt(weight?.toDecimalPlaces(6))} exceeds ${max}`,
    );
  },

  no_opposite_order: ({ sym, intent: { side }, data: { openOrders } }) => {
    const opposite = openOrders.filter((o) => o.symbol === sym && o.side !== side);
    return verdict(
      opposite.length === 0,
      `no open ${side === "buy" ? "sell" : "buy"} on ${sym}`,
      `open ${opposite[0]?.side} order ${opposite.map((o) => o.clientOrderId).join(", ")} on ${sym} (a potential wash trade)`,
    );
  },

  limit_price_band: ({ sym, intent: { type, limitPrice }, price, band }) => {
    if (type !== "limit" || limitPrice === undefined) return { ok: true, message: "not a limit order" };
    if (price === undefined) return { ok: false, message: `${sym}: no last price to compare the limit with` };
    const off = limitPrice.minus(price).abs().div(price);
    return verdict(
      off.lte(band),
      `limit ${limitPrice} is within ${band} of the last price ${price}`,
      `limit ${limitPrice} is ${off.toDecimalPlaces(6)} away from the last price ${price}, beyond ${band}`,
    );
  },
};
