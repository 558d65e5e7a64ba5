import type { AssetRules, MarketClock } from "../../broker/broker-port.js";
import { Decimal } from "../../core/decimal.js";
import { SIMULATED_BROKER_DEFAULTS } from "./options.js";

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
 * @remarks The place for a quote model (bid, ask, sizes, moves): the fill engine asks the
 * market for the price an order fills at, so quotes change that answer without touching the
 * orders.
 */
export class Market {
  private readonly prices = new Map<string, Decimal>();
  private readonly assets = new Map<string, AssetRules>();
  private open: boolean;

  /** @param open - whether the session is on at the start */
  constructor(open: boolean) {
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

  /** @returns the last price of `symbol` */
  price(symbol: string): Decimal | undefined {
    return this.prices.get(symbol);
  }

  /** @returns a copy of every last price */
  pricesNow(): Map<string, Decimal> {
    return new Map(this.prices);
  }

  /** Sets a last price. */
  setPrice(symbol: string, price: Decimal): void {
    this.prices.set(symbol, price);
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
