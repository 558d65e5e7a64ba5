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
import { type FundingBasis, RESERVATION_LEDGER_DEFAULTS, ReservationLedger } from "./reservation-ledger.js";

/** The name of each pre-order check, in the order they are reported. */
export type PreOrderCheckName =
  | "account_active"
  | "deny_list"
  | "asset_tradable"
  | "fractionable"
  | "quantity_increment"
  | "min_notional"
  | "time_in_force"
  | "market_open"
  | "position_available"
  | "buying_power"
  | "max_order_notional"
  | "max_order_equity_pct"
  | "max_position_weight"
  | "no_opposite_order"
  | "limit_price_band";

/** Every check name, in report order. */
export const PRE_ORDER_CHECKS: readonly PreOrderCheckName[] = [
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
];

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
  typeof v === "object" &&
  v !== null &&
  names.every((n) => typeof (v as Record<string, unknown>)[n] === "function");

const OptionsSchema = z
  .object({
    broker: zBrokerPort.optional(),
    buyingPower: z
      .custom<BuyingPowerManager>((v) => isFn(v, "getAvailableBuyingPower", "reserve"), {
        message: "expected a BuyingPowerManager",
      })
      .optional(),
    fundingBasis: z.enum(["cash", "non_marginable_buying_power", "buying_power"]).optional(),
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

interface Data {
  account: AccountSnapshot;
  position: PositionSnapshot | null;
  asset: AssetRules | undefined;
  price: Decimal | undefined;
  clock: MarketClock;
  openOrders: OrderSnapshot[];
  available: Decimal;
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
  readonly #limits: {
    maxOrderNotional?: Decimal;
    maxOrderPctOfEquity?: Decimal;
    maxPositionWeight?: Decimal;
    denyList: Set<string>;
  };

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

  async #gather(i: OrderIntent, raw: PreOrderContext, signal: AbortSignal | undefined): Promise<Data> {
    const c = parseInput(ContextSchema, raw, "context") as PreOrderContext & {
      price?: Decimal;
      available?: Decimal;
    };
    const call = signal === undefined ? undefined : { signal };
    const need = async <T>(
      have: T | undefined,
      what: string,
      read: (b: BrokerPort) => Promise<T>,
    ): Promise<T> => {
      if (have !== undefined) return have;
      if (this.#broker === undefined) {
        throw new OrdersafeError("config", `no ${what} in the context and no broker to read it from`, {
          details: { missing: what },
        });
      }
      return read(this.#broker);
    };
    const [account, position, assets, prices, clock, openOrders] = await Promise.all([
      need(c.account, "account", (b) => b.getAccount(call)),
      need(c.position, "position", (b) => b.getPosition(i.symbol, call)),
      need(c.asset === undefined ? undefined : [c.asset], "asset", (b) => b.getAssets([i.symbol], call)),
      need(c.price === undefined ? undefined : new Map([[i.symbol, c.price]]), "price", (b) =>
        b.getLatestPrices([i.symbol], call),
      ),
      need(c.clock, "clock", (b) => b.getClock(call)),
      need(c.openOrders as OrderSnapshot[] | undefined, "openOrders", (b) => b.listOpenOrders(call)),
    ]);
    const price = prices.get(i.symbol);
    let available: Decimal;
    if (c.available !== undefined) available = c.available;
    else if (this.#manager !== undefined) {
      available = await this.#manager.getAvailableBuyingPower({ refresh: true, ...(call ?? {}) });
      // an order already reserved must not be counted against itself
      const own = i.clientOrderId === undefined ? undefined : this.#manager.ledger.get(i.clientOrderId);
      if (own !== undefined) available = available.plus(own.remaining);
    } else {
      const ledger = new ReservationLedger({
        fundingBasis: this.#fundingBasis,
        marketBuyBuffer: this.#buffer,
      });
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
      available = ledger.available(account);
    }
    return {
      account: account as AccountSnapshot,
      position: (position ?? null) as PositionSnapshot | null,
      asset: (assets as AssetRules[]).find((a) => a.symbol === i.symbol),
      price,
      clock: clock as MarketClock,
      openOrders: openOrders as OrderSnapshot[],
      available,
    };
  }

  #check(i: OrderIntent, d: Data): PreOrderCheck[] {
    const out: PreOrderCheck[] = [];
    const add = (name: PreOrderCheckName, ok: boolean, message: string) => out.push({ name, ok, message });
    const sym = i.symbol;
    const price = d.price;
    const notional = price === undefined ? i.notional : this.#notional(i, price);
    const fractional = i.notional !== undefined || (i.qty !== undefined && !i.qty.isInteger());
    const fmt = (x: Decimal | undefined) => (x === undefined ? "unknown" : x.toString());

    add(
      "account_active",
      !d.account.tradingBlocked,
      d.account.tradingBlocked ? "trading is blocked on the account" : "the account may trade",
    );
    const denied = this.#limits.denyList.has(sym.toUpperCase());
    add("deny_list", !denied, denied ? `${sym} is on the deny list` : `${sym} is not on the deny list`);

    const a = d.asset;
    add(
      "asset_tradable",
      a?.tradable === true,
      a === undefined
        ? `${sym} is not a known asset`
        : a.tradable
          ? `${sym} is tradable`
          : `${sym} is not tradable`,
    );
    if (a === undefined) {
      add("fractionable", false, `${sym}: no asset rules`);
      add("quantity_increment", false, `${sym}: no asset rules`);
      add("min_notional", false, `${sym}: no asset rules`);
    } else {
      add(
        "fractionable",
        !fractional || a.fractionable,
        !fractional
          ? "whole shares"
          : a.fractionable
            ? `${sym} is fractionable`
            : `${sym} is not fractionable: whole-share quantity orders only`,
      );
      const inc = a.fractionable ? a.qtyIncrement : a.qtyIncrement.lt(1) ? ONE : a.qtyIncrement;
      const onStep = i.qty === undefined || isMultipleOf(i.qty, inc);
      add(
        "quantity_increment",
        onStep,
        i.qty === undefined
          ? "a notional order has no quantity increment"
          : onStep
            ? `qty ${i.qty} is a multiple of ${inc}`
            : `qty ${i.qty} is not a multiple of the increment ${inc}`,
      );
      const min = a.minNotional;
      const minOk = min === undefined || notional?.gte(min) === true;
      add(
        "min_notional",
        minOk,
        min === undefined
          ? "no minimum notional"
          : minOk
            ? `notional ${fmt(notional)} ≥ minimum ${min}`
            : `notional ${fmt(notional)} is below the minimum ${min}`,
      );
    }
    const tifOk = !fractional || i.timeInForce === "day";
    add(
      "time_in_force",
      tifOk,
      tifOk
        ? `time in force ${i.timeInForce} is allowed`
        : `a fractional or notional order must be "day", not ${JSON.stringify(i.timeInForce)}`,
    );
    const openOk = d.clock.isOpen || this.#allowQueueing;
    add(
      "market_open",
      openOk,
      d.clock.isOpen
        ? "the market is open"
        : this.#allowQueueing
          ? `the market is closed; the order will be queued for ${d.clock.nextOpen.toISOString()}`
          : `the market is closed until ${d.clock.nextOpen.toISOString()} and queueing is not allowed`,
    );

    if (i.side === "sell") {
      const have = d.position === null ? ZERO : d.position.qtyAvailable;
      const want = i.qty ?? (price === undefined ? undefined : (i.notional as Decimal).div(price));
      const ok = want?.lte(have) === true;
      add(
        "position_available",
        ok,
        ok
          ? `selling ${fmt(want)} of ${have} available`
          : want === undefined
            ? `${sym}: no price to convert the notional to shares`
            : `selling ${want} but only ${have} of ${sym} is available`,
      );
      add("buying_power", true, "a sell needs no buying power");
    } else {
      add("position_available", true, "a buy needs no position");
      if (i.notional === undefined && i.type === "market" && price === undefined) {
        add("buying_power", false, `${sym}: no last price to hold the market buy at`);
      } else {
        const required = requiredFunds(i, price, this.#buffer);
        const ok = required.lte(d.available);
        add(
          "buying_power",
          ok,
          ok
            ? `requires ${required} of ${d.available} available`
            : `requires ${required} but only ${d.available} is available (short ${required.minus(d.available)})`,
        );
      }
    }

    const L = this.#limits;
    if (L.maxOrderNotional === undefined) add("max_order_notional", true, "no limit");
    else {
      const ok = notional?.lte(L.maxOrderNotional) === true;
      add(
        "max_order_notional",
        ok,
        ok
          ? `notional ${fmt(notional)} ≤ ${L.maxOrderNotional}`
          : `notional ${fmt(notional)} exceeds ${L.maxOrderNotional}`,
      );
    }
    const equity = d.account.equity;
    if (L.maxOrderPctOfEquity === undefined) add("max_order_equity_pct", true, "no limit");
    else {
      const pct = notional !== undefined && equity.gt(0) ? notional.div(equity) : undefined;
      const ok = pct?.lte(L.maxOrderPctOfEquity) === true;
      add(
        "max_order_equity_pct",
        ok,
        ok
          ? `order is ${pct} of equity, ≤ ${L.maxOrderPctOfEquity}`
          : `order is ${fmt(pct)} of equity ${equity}, above ${L.maxOrderPctOfEquity}`,
      );
    }
    if (L.maxPositionWeight === undefined || i.side === "sell") {
      add("max_position_weight", true, i.side === "sell" ? "a sell does not raise the weight" : "no limit");
    } else {
      const held = d.position?.qty ?? ZERO;
      const value =
        price === undefined || notional === undefined ? undefined : held.times(price).plus(notional);
      const weight = value !== undefined && equity.gt(0) ? value.div(equity) : undefined;
      const ok = weight?.lte(L.maxPositionWeight) === true;
      add(
        "max_position_weight",
        ok,
        ok
          ? `position weight after ${weight?.toDecimalPlaces(6)} ≤ ${L.maxPositionWeight}`
          : `position weight after ${fmt(weight?.toDecimalPlaces(6))} exceeds ${L.maxPositionWeight}`,
      );
    }
    const opposite = d.openOrders.filter((o) => o.symbol === sym && o.side !== i.side);
    add(
      "no_opposite_order",
      opposite.length === 0,
      opposite.length === 0
        ? `no open ${i.side === "buy" ? "sell" : "buy"} on ${sym}`
        : `open ${opposite[0]?.side} order ${opposite.map((o) => o.clientOrderId).join(", ")} on ${sym} (a potential wash trade)`,
    );
    if (i.type !== "limit" || i.limitPrice === undefined) add("limit_price_band", true, "not a limit order");
    else if (price === undefined)
      add("limit_price_band", false, `${sym}: no last price to compare the limit with`);
    else {
      const off = i.limitPrice.minus(price).abs().div(price);
      const ok = off.lte(this.#band);
      add(
        "limit_price_band",
        ok,
        ok
          ? `limit ${i.limitPrice} is within ${this.#band} of the last price ${price}`
          : `limit ${i.limitPrice} is ${off.toDecimalPlaces(6)} away from the last price ${price}, beyond ${this.#band}`,
      );
    }
    return out;
  }
}
