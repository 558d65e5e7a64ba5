import type { Quote } from "../../broker/broker-port.js";
import { Decimal, Rounding } from "../../core/decimal.js";
import { createRandom, type Random } from "../../core/random.js";

/** The quote model's settings (option `quotes` of the simulated broker, defaults filled in). */
export interface QuoteSettings {
  /** The full spread, in basis points of the mid. */
  readonly spreadBps: number;
  /** How far the mid moves each step: a normal draw of this standard deviation, in bps. */
  readonly volatilityBps: number;
  /** How often the mid moves (ms). */
  readonly stepMs: number;
  /** The chance a quote read answers with the quote of `staleMs` ago (its `asOf` then). */
  readonly staleProbability: number;
  /** How old a stale quote is (ms). */
  readonly staleMs: number;
  /** The chance a quote read answers with bid and ask swapped (a crossed quote). */
  readonly crossedProbability: number;
  /** The chance a quote read omits the symbol (no quote). */
  readonly missingProbability: number;
  /**
   * The chance per step that a resting limit order priced inside the spread fills, at the far
   * end of the spread (a buy limit at the ask); scaled down linearly to 0 at the near touch.
   */
  readonly passiveFillProbability: number;
}

/** One symbol's walk: the mid set by `setPrice` at `start`, and the mids of each step since. */
interface Walk {
  readonly start: number;
  readonly mids: Decimal[];
  readonly random: Random;
}

/** A string's 32-bit FNV-1a hash: each symbol's walk gets its own seeded stream. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * The simulated market's quotes: per symbol a mid that takes a seeded random walk in steps of
 * `stepMs` from the last price set, and a bid and ask `spreadBps` apart around it.
 *
 * @remarks Everything is a function of the seed, the symbol, the prices set and the time: a
 * symbol's walk has its own random stream (seed, symbol, how many times its price was set), so
 * reading quotes in another order or at other times never changes a walk. Reads may be faulted
 * (stale, crossed, missing) by draws from a stream of their own; fills always see the true
 * quote.
 */
export class QuoteModel {
  private readonly walks = new Map<string, Walk>();
  private readonly sets = new Map<string, number>();
  private readonly readRandom: Random;
  private readonly fillRandom: Random;

  /**
   * @param settings - spread, moves, read faults, passive fills
   * @param seed - the broker's seed
   */
  constructor(
    readonly settings: QuoteSettings,
    private readonly seed: number,
  ) {
    this.readRandom = createRandom(seed ^ 0x1f83d9ab);
    this.fillRandom = createRandom(seed ^ 0x5be0cd19);
  }

  /** Starts a new walk of `symbol` from `price` at `now`. */
  setPrice(symbol: string, price: Decimal, now: number): void {
    const n = (this.sets.get(symbol) ?? 0) + 1;
    this.sets.set(symbol, n);
    this.walks.set(symbol, {
      start: now,
      mids: [price],
      random: createRandom((this.seed ^ hash(symbol) ^ Math.imul(n, 0x9e3779b1)) >>> 0),
    });
  }

  /** @returns the mid of `symbol` at `at`, or undefined before any price */
  mid(symbol: string, at: number): Decimal | undefined {
    const walk = this.walks.get(symbol);
    if (walk === undefined) return undefined;
    const step = Math.max(0, Math.floor((at - walk.start) / this.settings.stepMs));
    while (walk.mids.length <= step) {
      const last = walk.mids[walk.mids.length - 1] ?? new Decimal(1);
      walk.mids.push(this.move(last, walk.random));
    }
    return walk.mids[step];
  }

  /** @returns when the mid of `symbol` next moves after `at` */
  nextStepAt(symbol: string, at: number): number {
    const start = this.walks.get(symbol)?.start ?? at;
    const step = this.settings.stepMs;
    return start + (Math.floor(Math.max(0, at - start) / step) + 1) * step;
  }

  /** @returns the true quote of `symbol` at `at` (what fills see), or undefined before any price */
  quote(symbol: string, at: number): Quote | undefined {
    const mid = this.mid(symbol, at);
    if (mid === undefined) return undefined;
    const walk = this.walks.get(symbol);
    const start = walk?.start ?? at;
    const stepStart =
      start + Math.max(0, Math.floor((at - start) / this.settings.stepMs)) * this.settings.stepMs;
    return quoteAround(mid, this.settings.spreadBps, new Date(stepStart));
  }

  /**
   * The quote a read answers with: the true quote, or (by seeded draws) a stale one, a
   * crossed one, or none.
   *
   * @returns the quote, or undefined when the symbol has none (or the draw omits it)
   */
  read(symbol: string, at: number): Quote | undefined {
    if (!this.walks.has(symbol)) return undefined;
    const s = this.settings;
    if (s.missingProbability > 0 && this.readRandom() < s.missingProbability) return undefined;
    const stale = s.staleProbability > 0 && this.readRandom() < s.staleProbability;
    const q = this.quote(symbol, stale ? Math.max(this.walks.get(symbol)?.start ?? at, at - s.staleMs) : at);
    if (q === undefined) return undefined;
    const crossed = s.crossedProbability > 0 && this.readRandom() < s.crossedProbability;
    if (!crossed || q.bid.eq(q.ask)) return q;
    return { ...q, bid: q.ask, ask: q.bid };
  }

  /**
   * Whether a resting limit inside the spread fills this step: a seeded draw with the chance
   * `passiveFillProbability` × how far the limit sits from the near touch toward the far one.
   *
   * @param side - the order's side
   * @param limit - its limit
   * @param quote - the true quote now
   * @returns whether it fills at its limit now
   */
  passiveFill(side: "buy" | "sell", limit: Decimal, quote: Quote): boolean {
    const p = this.settings.passiveFillProbability;
    const width = quote.ask.minus(quote.bid);
    if (p <= 0 || width.lte(0)) return false;
    const inside = side === "buy" ? limit.minus(quote.bid) : quote.ask.minus(limit);
    if (inside.lte(0)) return false;
    const chance = p * Math.min(1, inside.div(width).toNumber());
    return this.fillRandom() < chance;
  }

  /** One step of the walk: a normal draw (Box–Muller) of `volatilityBps`, to 4 decimals, never ≤ 0. */
  private move(last: Decimal, random: Random): Decimal {
    if (this.settings.volatilityBps <= 0) return last;
    const u1 = Math.max(random(), Number.EPSILON);
    const u2 = random();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    const factor = new Decimal(1).plus(new Decimal(z * this.settings.volatilityBps).div(10_000));
    const next = last.times(factor).toDecimalPlaces(4, Rounding.halfUp);
    return next.gt(0) ? next : last;
  }
}

/**
 * A quote `spreadBps` wide around `mid`: the bid rounded down and the ask rounded up to a
 * price tick (a cent at $1 and above, 0.0001 below), so a spread is never narrower than asked.
 *
 * @param mid - the mid
 * @param spreadBps - the full spread in bps
 * @param asOf - the quote's time
 * @returns the quote
 */
export function quoteAround(mid: Decimal, spreadBps: number, asOf: Date): Quote {
  if (spreadBps <= 0) return { bid: mid, ask: mid, asOf };
  const half = mid.times(spreadBps).div(20_000);
  const places = mid.gte(1) ? 2 : 4;
  const bid = mid.minus(half).toDecimalPlaces(places, Rounding.down);
  const ask = mid.plus(half).toDecimalPlaces(places, Rounding.up);
  return { bid: bid.gt(0) ? bid : mid, ask, asOf };
}
