import { z } from "zod";
import { OrderSnapshotSchema, PositionSnapshotSchema } from "../broker/schemas.js";
import { Decimal, type DecimalLike, ONE, tryToDecimal, ZERO } from "../core/decimal.js";
import { zDecimal, zNonNegativeDecimal, zPositiveDecimal, zSymbol } from "../core/validation.js";

/** How a target is given: fractions of equity, shares, or dollars per symbol. */
export const TARGET_KINDS = ["weights", "quantities", "notionals"] as const;
/** One of {@link TARGET_KINDS}. */
export type TargetKind = (typeof TARGET_KINDS)[number];

/** What `options.untargeted` may say of a held symbol absent from the targets. */
export const UNTARGETED_MODES = ["liquidate", "keep"] as const;
/** One of {@link UNTARGETED_MODES}. */
export type UntargetedMode = (typeof UNTARGETED_MODES)[number];
/** How buys may be sized (`options.buyWith`). */
export const BUY_WITH_MODES = ["notional", "qty"] as const;
/** Which legs a plan may hold (`options.sides`). */
export const PLAN_SIDES = ["both", "sells", "buys"] as const;
/**
 * How quantity legs are rounded to the increment (`options.rounding`): `nearest` (the best
 * floor or ceiling per symbol, within the cash and the shares available) or `down` (always
 * toward less, the former rule).
 */
export const ROUNDING_MODES = ["nearest", "down"] as const;

/**
 * The planner's defaults, each in one place: {@link RebalanceOptionsSchema} and
 * {@link RebalanceCapabilitiesSchema} fill a missing option or capability from here.
 *
 * @remarks
 * `untargeted` has no single default: it depends on how the targets are given (held symbols
 * absent from weight targets are liquidated; absent from quantity or notional targets, kept).
 * Every capability defaults to true.
 *
 * @example
 * ```ts
 * REBALANCE_DEFAULTS.cashBuffer.toString(); // "0.0025"
 * REBALANCE_DEFAULTS.untargeted.weights; // "liquidate"
 * ```
 */
export const REBALANCE_DEFAULTS = {
  noTradeBand: { weight: ZERO, notional: ZERO },
  minOrderNotional: new Decimal(1),
  cashBuffer: new Decimal("0.0025"),
  fullExitTolerance: new Decimal(0),
  keep: [],
  untargeted: { weights: "liquidate", quantities: "keep", notionals: "keep" },
  buyWith: "notional",
  marketBuyBuffer: new Decimal("0.03"),
  sides: "both",
  cashExcludesOpenBuys: false,
  rounding: "nearest",
  capabilities: { notionalOrders: true, fractional: true, closePosition: true },
} as const;

// zSymbol's pattern, checked directly: these maps can hold tens of thousands of entries, and a
// per-entry zod schema costs several times the check itself.
const SYMBOL = /^[A-Za-z0-9][A-Za-z0-9./:_-]{0,31}$/;

/**
 * A `Map` or a plain record of symbol → decimal, parsed into a record of decimals. Each bad
 * key or value is reported at its own path (`prices.AAA`).
 */
const mapOrRecord = (bound: "positive" | "nonNegative") =>
  z
    .custom<ReadonlyMap<string, DecimalLike> | Readonly<Record<string, DecimalLike>>>(
      (v) => v instanceof Map || (typeof v === "object" && v !== null && !Array.isArray(v)),
      { message: "expected a Map or a record of symbol → decimal" },
    )
    .transform((raw, ctx) => {
      const out: Record<string, Decimal> = {};
      let ok = true;
      // Symbols differing only by case (SPY, spy) name one asset at most brokers: refused.
      const folded = new Map<string, string>();
      const check = (key: unknown, value: unknown) => {
        if (typeof key !== "string" || !SYMBOL.test(key)) {
          ctx.addIssue({ code: "custom", path: [String(key)], message: "expected a ticker symbol" });
          ok = false;
          return;
        }
        const twin = folded.get(key.toUpperCase());
        if (twin !== undefined) {
          ctx.addIssue({ code: "custom", path: [key], message: `differs from ${twin} only by case` });
          ok = false;
          return;
        }
        folded.set(key.toUpperCase(), key);
        const d = decimalOrUndefined(value);
        if (d === undefined) {
          ctx.addIssue({ code: "custom", path: [key], message: "expected a finite decimal" });
          ok = false;
        } else if (d.isZero()) {
          // −0 is a zero like any other.
          if (bound === "positive") {
            ctx.addIssue({ code: "custom", path: [key], message: "expected a value > 0" });
            ok = false;
          } else out[key] = ZERO;
        } else if (d.isNegative()) {
          const message = bound === "positive" ? "expected a value > 0" : "expected a value ≥ 0";
          ctx.addIssue({ code: "custom", path: [key], message });
          ok = false;
        } else out[key] = d;
      };
      // Keys and values read directly: no [key, value] pair per entry.
      if (isMap(raw)) for (const [key, value] of raw) check(key, value);
      else for (const key of Object.keys(raw)) check(key, raw[key]);
      return ok ? out : z.NEVER;
    });

function isMap<K, V>(v: ReadonlyMap<K, V> | object): v is ReadonlyMap<K, V> {
  return v instanceof Map;
}

function decimalOrUndefined(value: unknown): Decimal | undefined {
  // toDecimal's rules, overflow included ("1e9999999999999999" reads as Infinity).
  return tryToDecimal(value);
}

/**
 * How far above 1 a sum of weights may be and still count as 1: float noise, as in weights
 * of 1/n written as numbers (eleven 1/11 sum to 1.00000000000000004).
 *
 * @example
 * ```ts
 * WEIGHT_SUM_TOLERANCE.toString(); // "1e-9"
 * ```
 */
export const WEIGHT_SUM_TOLERANCE: Decimal = new Decimal("1e-9");

const WeightsSchema = mapOrRecord("nonNegative").superRefine((weights, ctx) => {
  let sum = ZERO;
  for (const w of Object.values(weights)) sum = sum.plus(w);
  // Weights of 1/n in binary floating point sum to a hair above 1 (1.00000000000000004 for
  // n = 11): a sum within WEIGHT_SUM_TOLERANCE of 1 is 1.
  if (sum.minus(1).gt(WEIGHT_SUM_TOLERANCE)) {
    ctx.addIssue({ code: "custom", message: `expected weights summing to at most 1 (sum ${sum.toFixed()})` });
  }
  for (const symbol of Object.keys(weights)) {
    if (weights[symbol]!.gt(ONE))
      ctx.addIssue({ code: "custom", path: [symbol], message: "expected a weight ≤ 1" });
  }
});

/**
 * What the portfolio should hold: exactly one of `weights` (fractions of equity summing to
 * at most 1, the rest stays cash), `quantities` (shares) or `notionals` (dollars).
 */
export const RebalanceTargetsSchema = z
  .object({
    /** Fractions of equity per symbol, each in [0, 1], summing to at most 1. */
    weights: WeightsSchema.optional(),
    /** Shares per symbol, at least 0. */
    quantities: mapOrRecord("nonNegative").optional(),
    /** Dollars per symbol, at least 0. */
    notionals: mapOrRecord("nonNegative").optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const given = [t.weights, t.quantities, t.notionals].filter((x) => x !== undefined).length;
    if (given !== 1) {
      ctx.addIssue({ code: "custom", message: "expected exactly one of weights, quantities and notionals" });
    }
  });

const AssetRulesEntrySchema = z.object({
  symbol: zSymbol,
  tradable: z.boolean(),
  fractionable: z.boolean(),
  qtyIncrement: zPositiveDecimal,
  minNotional: z.preprocess((v) => (v === null ? undefined : v), zNonNegativeDecimal.optional()),
});

const AssetsSchema = z.union([
  z.array(AssetRulesEntrySchema),
  z.record(zSymbol, AssetRulesEntrySchema.extend({ symbol: zSymbol.optional() })),
]);

/**
 * What the broker can do, as far as the plan cares. Every flag defaults to true
 * (`REBALANCE_DEFAULTS.capabilities`).
 */
export const RebalanceCapabilitiesSchema = z.object({
  /** Orders may be sized by notional. */
  notionalOrders: z.boolean().default(REBALANCE_DEFAULTS.capabilities.notionalOrders),
  /** Fractional quantities are accepted for fractionable assets. */
  fractional: z.boolean().default(REBALANCE_DEFAULTS.capabilities.fractional),
  /** `closePosition(symbol)` exists, for dust that cannot be an order. */
  closePosition: z.boolean().default(REBALANCE_DEFAULTS.capabilities.closePosition),
});

const fraction = (max: number) =>
  zNonNegativeDecimal.refine((d) => d.lte(max), { message: `expected a value in [0, ${max}]` });

/**
 * The planner's options, each with its default from {@link REBALANCE_DEFAULTS}. Unknown keys
 * are refused. See `docs/rebalancing.md`.
 *
 * @example
 * ```ts
 * RebalanceOptionsSchema.parse({ noTradeBand: { weight: 0.01 }, keep: ["BIL"] });
 * ```
 */
export const RebalanceOptionsSchema = z
  .object({
    /**
     * A symbol whose |target − projected| is at most `weight` of equity or at most
     * `notional` dollars is left alone (`within_band`). Full exits ignore the band.
     * @defaultValue `{ weight: 0, notional: 0 }` (off: the minimum order notional filters dust;
     *   `REBALANCE_DEFAULTS.noTradeBand`)
     */
    noTradeBand: z
      .object({
        weight: fraction(1).default(REBALANCE_DEFAULTS.noTradeBand.weight),
        notional: zNonNegativeDecimal.default(REBALANCE_DEFAULTS.noTradeBand.notional),
      })
      .strict()
      .default(REBALANCE_DEFAULTS.noTradeBand),
    /**
     * The smallest leg, in dollars; an asset's own `minNotional` wins when larger.
     * @defaultValue 1 (`REBALANCE_DEFAULTS.minOrderNotional`)
     */
    minOrderNotional: zNonNegativeDecimal.default(REBALANCE_DEFAULTS.minOrderNotional),
    /**
     * Cash kept back from buys, as a fraction of equity.
     * @defaultValue 0.0025 (0.25%, `REBALANCE_DEFAULTS.cashBuffer`)
     */
    cashBuffer: fraction(1).default(REBALANCE_DEFAULTS.cashBuffer),
    /**
     * A sell that would leave at most this fraction of the held quantity becomes a full exit.
     * A sell whose remainder could not be sold on its own (under the minimum order or one
     * increment) is a full exit whatever this says; a larger tolerance sells a remainder the
     * targets asked to keep (and a later run buys it back).
     * @defaultValue 0 (`REBALANCE_DEFAULTS.fullExitTolerance`)
     */
    fullExitTolerance: fraction(1).default(REBALANCE_DEFAULTS.fullExitTolerance),
    /**
     * Symbols never touched (skipped with `kept`), whatever the targets say.
     * @defaultValue [] (`REBALANCE_DEFAULTS.keep`)
     */
    keep: z.array(zSymbol).default(() => [...REBALANCE_DEFAULTS.keep]),
    /**
     * What happens to a held symbol absent from the targets.
     * @defaultValue `"liquidate"` for weight targets, `"keep"` for quantity and notional targets
     *   (`REBALANCE_DEFAULTS.untargeted`)
     */
    untargeted: z.enum(UNTARGETED_MODES).optional(),
    /**
     * How buys are sized: `notional` (dollar orders where the asset is fractionable and the
     * broker takes notional and fractional orders; quantity otherwise) or always `qty`.
     * @defaultValue "notional" (`REBALANCE_DEFAULTS.buyWith`)
     */
    buyWith: z.enum(BUY_WITH_MODES).default(REBALANCE_DEFAULTS.buyWith),
    /**
     * The hold a quantity market buy puts on cash, above qty × price.
     * @defaultValue 0.03 (3%, `REBALANCE_DEFAULTS.marketBuyBuffer`)
     */
    marketBuyBuffer: fraction(1).default(REBALANCE_DEFAULTS.marketBuyBuffer),
    /**
     * Which legs to plan: `both`; `sells` only; or `buys` only (re-planning buys on the real
     * cash after the sells are final: no sell proceeds are counted).
     * @defaultValue "both" (`REBALANCE_DEFAULTS.sides`)
     */
    sides: z.enum(PLAN_SIDES).default(REBALANCE_DEFAULTS.sides),
    /**
     * Whether `account.cash` already excludes what open buy orders hold (as a broker's
     * buying power does). When false, the holds of open buys are subtracted.
     * @defaultValue false (`REBALANCE_DEFAULTS.cashExcludesOpenBuys`)
     */
    cashExcludesOpenBuys: z.boolean().default(REBALANCE_DEFAULTS.cashExcludesOpenBuys),
    /**
     * How quantity legs are rounded to the increment: `nearest` (a trim or a buy goes one
     * increment further when more than half of one is left over, and, for a few symbols, the
     * floor or ceiling choice of least tracking error within the cash is found exactly), or
     * `down` (always toward less).
     * @defaultValue "nearest" (`REBALANCE_DEFAULTS.rounding`)
     */
    rounding: z.enum(ROUNDING_MODES).default(REBALANCE_DEFAULTS.rounding),
  })
  .strict();

const AccountSchema = z
  .object({
    /** Cash plus the market value of positions: the base of weight targets and of the cash buffer. */
    equity: zNonNegativeDecimal,
    /** The cash the plan may count on (for example the lesser of cash and non-marginable buying power). */
    cash: zDecimal,
    /**
     * The broker's buying power, when known: the buys never count on more than it. It is
     * read from the account, which may lag: the plan also never counts on more than `cash`
     * less what the open buys hold (unless `cashExcludesOpenBuys`), whichever is less.
     */
    buyingPower: zDecimal.optional(),
  })
  .strict();

const CapabilitiesWithDefaultSchema = RebalanceCapabilitiesSchema.default(REBALANCE_DEFAULTS.capabilities);

const OptionsWithDefaultSchema = RebalanceOptionsSchema.default(() => RebalanceOptionsSchema.parse({}));
const PricesSchema = mapOrRecord("positive");

/**
 * The small part of {@link RebalanceInputSchema}: the validation fast path checks the
 * positions, open orders, assets, prices and targets by hand and the rest with this schema.
 * Internal.
 */
export const RebalanceInputRestSchema = z.object({
  account: AccountSchema,
  capabilities: CapabilitiesWithDefaultSchema,
  options: OptionsWithDefaultSchema,
});

/**
 * Schema of the planner's input. `RebalanceInputInput` is what callers pass (decimals as
 * `DecimalLike`, prices and targets as a `Map` or a record); `RebalanceInput` is the parsed
 * form. Unknown keys are refused at every level the planner owns.
 *
 * @example
 * ```ts
 * const parsed = RebalanceInputSchema.safeParse(input);
 * if (!parsed.success) console.error(parsed.error.issues);
 * ```
 */
export const RebalanceInputSchema = z
  .object({
    positions: z.array(PositionSnapshotSchema).default([]),
    openOrders: z.array(OrderSnapshotSchema).default([]),
    targets: RebalanceTargetsSchema,
    prices: PricesSchema,
    assets: AssetsSchema,
    account: AccountSchema,
    capabilities: CapabilitiesWithDefaultSchema,
    options: OptionsWithDefaultSchema,
  })
  .strict()
  .superRefine((input, ctx) => {
    duplicates(
      input.positions.map((p) => p.symbol),
      ["positions"],
      ctx,
    );
    duplicates(
      input.openOrders.map((o) => o.id),
      ["openOrders"],
      ctx,
    );
    if (Array.isArray(input.assets)) {
      duplicates(
        input.assets.map((a) => a.symbol),
        ["assets"],
        ctx,
      );
    } else {
      for (const [symbol, rules] of Object.entries(input.assets)) {
        if (rules.symbol !== undefined && rules.symbol !== symbol) {
          ctx.addIssue({
            code: "custom",
            path: ["assets", symbol, "symbol"],
            message: `expected ${symbol}`,
          });
        }
      }
    }
  });

function duplicates(values: readonly string[], path: (string | number)[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) ctx.addIssue({ code: "custom", path: [...path, i], message: `${v} listed twice` });
    seen.add(v);
  });
}

/** The planner's input as parsed (decimals converted, defaults filled). */
export type RebalanceInput = z.output<typeof RebalanceInputSchema>;
/** The planner's input as callers write it. */
export type RebalanceInputInput = z.input<typeof RebalanceInputSchema>;
/** The planner's options as parsed. */
export type RebalanceOptions = z.output<typeof RebalanceOptionsSchema>;
/** The planner's options as callers write them. */
export type RebalanceOptionsInput = z.input<typeof RebalanceOptionsSchema>;
/** Targets as parsed. */
export type RebalanceTargets = z.output<typeof RebalanceTargetsSchema>;
/** Targets as callers write them. */
export type RebalanceTargetsInput = z.input<typeof RebalanceTargetsSchema>;
