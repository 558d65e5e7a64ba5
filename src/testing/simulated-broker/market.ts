import type { AssetRules, MarketClock, Quote } from "../../broker/broker-port.js";
import { Decimal } from "../../core/decimal.js";
import { SIMULATED_BROKER_DEFAULTS } from "./options.js";
import type { QuoteModel } from "./quote-model.js";

const ASSET_DEFAULTS = SIMULATED_BROKER_DEFAULTS.asset;

/**
 * The rules of a symbol the venue knows only by its price: tradable, fractionable, in steps
 * of `SIMULATED_BROKER_DEFAULTS.asset.fractionalIncrement`, with a $1 minimum.
 *
 * @param symbol - the symbol
 * @returns its rules
 */
export function defaultAsset(symbol: string): AssetRules {
  return {
    symbol,
    tradable: ASSET_DEFAULTS.tradable,
    fractionable: ASSET_DEFAULTS.fractionable,
    qtyIncrement: new Decimal(ASSET_DEFAULTS.fractionalIncrement),
    minNotional: new Decimal(ASSET_DEFAULTS.minNotional),
  };
}

/**
 * The rules of a symbol given partial rules: what is left out is the default, and a
 * non-fractionable asset trades in whole shares unless its increment is given.
 *
 * @param symbol - the symbol
 * @param rules - the rules given
 * @returns its rules
 */
export function assetWith(
  symbol: string,
  rules: { tradable?: boolean; fractionable?: boolean; qtyIncrement?: Decimal; minNotional?: Decimal },
): AssetRules {
  const fractionable = rules.fractionable ?? ASSET_DEFAULTS.fractionable;
  return {
    symbol,
    tradable: rules.tradable ?? ASSET_DEFAULTS.tradable,
    fractionable,
    qtyIncrement:
      rules.qtyIncrement ??
      new Decimal(fractionable ? ASSET_DEFAULTS.fractionalIncrement : ASSET_DEFAULTS.wholeIncrement),
    minNotional: rules.minNotional ?? new Decimal(ASSET_DEFAULTS.minNotional),
  };
}

/**
 * The market the venue trades in: the assets it lists, their last prices, and whether the
 * regular session is on.
 *
 * @remarks With a quote model the price of a symbol is its mid now, and its quote the model's
 * bid and ask; without one, the quote is the last price on both sides, so fills against the
 * quote are fills at the last price.
 */
export class Market {
  private readonly prices = new Map<string, Decimal>();
  private readonly assets = new Map<string, AssetRules>();
  private open: boolean;

  /**
   * @param open - whether the session is on at the start
   * @param now - the clock time (what the quote model reads at)
   * @param quotes - the quote model, if any
   */
  constructor(
    open: boolean,
    private readonly now: () => number = () => 0,
    readonly quotes: QuoteModel | undefined = undefined,
  ) {
    this.open = open;
  }

  /** Whether the regular session is on. */
  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Opens or closes the session.
   *
   * @returns whether that changed anything
   */
  setOpen(open: boolean): boolean {
    if (open === this.open) return false;
    this.open = open;
    return true;
  }

  /** @returns the last price of `symbol` (with a quote model: its mid now) */
  price(symbol: string): Decimal | undefined {
    if (this.quotes === undefined || !this.prices.has(symbol)) return this.prices.get(symbol);
    return this.quotes.mid(symbol, this.now());
  }

  /** @returns a copy of every last price (with a quote model: every mid now) */
  pricesNow(): Map<string, Decimal> {
    if (this.quotes === undefined) return new Map(this.prices);
    const out = new Map<string, Decimal>();
    for (const symbol of this.prices.keys()) {
      const mid = this.price(symbol);
      if (mid !== undefined) out.set(symbol, mid);
    }
    return out;
  }

  /** Sets a last price (with a quote model: the mid walks on from it). */
  setPrice(symbol: string, price: Decimal): void {
    this.prices.set(symbol, price);
    this.quotes?.setPrice(symbol, price, this.now());
  }

  /** @returns the true quote of `symbol` now (what orders fill against), or undefined without a price */
  quote(symbol: string): Quote | undefined {
    if (this.quotes !== undefined) return this.quotes.quote(symbol, this.now());
    const price = this.prices.get(symbol);
    return price === undefined ? undefined : { bid: price, ask: price, asOf: new Date(this.now()) };
  }

  /** @returns the quote a read of `symbol` answers with now (the model may fault it), or undefined */
  readQuote(symbol: string): Quote | undefined {
    if (this.quotes !== undefined) return this.quotes.read(symbol, this.now());
    return this.quote(symbol);
  }

  /** @returns the rules of `symbol`, or undefined when it is not listed */
  asset(symbol: string): AssetRules | undefined {
    return this.assets.get(symbol);
  }

  /** Lists an asset with these rules (replacing any listed). */
  list(rules: AssetRules): void {
    this.assets.set(rules.symbol, rules);
  }

  /** Lists `symbol` with the default rules unless it is listed. */
  listIfNew(symbol: string): void {
    if (!this.assets.has(symbol)) this.assets.set(symbol, defaultAsset(symbol));
  }
}

/**
 * The market clock at a time: the session runs 14:30–21:00 UTC on weekdays (9:30–16:00 New
 * York in winter), and while open the next open is the one after the next close.
 *
 * @param now - the time (ms)
 * @param isOpen - whether the session is on (the venue's switch, not the hour)
 * @returns the clock
 */
export function marketClockAt(now: number, isOpen: boolean): MarketClock {
  const close = nextUtcWeekdayAt(now, 21, 0);
  let open = nextUtcWeekdayAt(now, 14, 30);
  if (isOpen && open < close) open = nextUtcWeekdayAt(close, 14, 30);
  return { isOpen, nextOpen: new Date(open), nextClose: new Date(close), asOf: new Date(now) };
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
