import type { AssetRules } from "../broker/broker-port.js";
import type { BrokerErrorCode } from "../core/errors.js";

/**
 * The defaults of the asset rules cache: rules read from the broker are reused for `ttlMs`
 * (an hour) on the same account. Alpaca changes an asset's tradable, fractionable and
 * increment rules rarely (mostly overnight), and a broker refusal for an asset reason drops
 * the symbol's rules at once, so the next read asks the broker again.
 *
 * @example
 * ```ts
 * ASSET_RULES_CACHE_DEFAULTS.ttlMs; // 3600000
 * ```
 */
export const ASSET_RULES_CACHE_DEFAULTS = Object.freeze({
  /** How long rules read from the broker are reused (ms); 0: never. */
  ttlMs: 3_600_000,
});

/**
 * The broker refusals that may come from an asset's rules (not tradable, not fractionable, a
 * quantity off the increment, under the minimum): each drops the symbol's cached rules.
 *
 * @example
 * ```ts
 * ASSET_REFUSAL_CODES.includes("not_fractionable"); // true
 * ```
 */
export const ASSET_REFUSAL_CODES = [
  "not_fractionable",
  "min_notional",
  "rejected",
  "invalid_order",
] as const satisfies readonly BrokerErrorCode[];

/** The rules of one symbol and the local time the read that brought them was sent. */
interface Entry {
  readonly rules: AssetRules;
  readonly readAt: number;
}

/**
 * The asset rules this process read on one account, each with the time its read was sent.
 * One per account (see `accountStateOf`), shared by every service given the same port.
 *
 * @remarks
 * A cached rule is only a hint of what the broker will accept: the broker checks every order
 * against its current rules and refuses one they forbid. Such a refusal (see
 * {@link ASSET_REFUSAL_CODES}), or an order the broker rejected later, drops the symbol's
 * rules, and a read sent before the drop can no longer put them back: the next use reads the
 * broker's current rules.
 *
 * @example
 * ```ts
 * const cache = new AssetRulesCache();
 * cache.store(await broker.getAssets(["SPY"]), clock.now());
 * cache.fresh(["SPY", "QQQ"], clock.now(), 60_000); // { found: [SPY's rules], missing: ["QQQ"] }
 * ```
 */
export class AssetRulesCache {
  readonly #entries = new Map<string, Entry>();
  /** When each symbol's rules were last dropped: a read sent before it is not stored. */
  readonly #droppedAt = new Map<string, number>();
  #clearedAt = Number.NEGATIVE_INFINITY;

  /**
   * Splits symbols into those with rules read less than `ttlMs` before `now` and the rest.
   *
   * @param symbols - the symbols wanted
   * @param now - the local time (ms)
   * @param ttlMs - the oldest a read may be (ms); 0: every symbol is missing
   * @returns the rules found (in the order asked, once each) and the symbols to read
   * @example
   * ```ts
   * const { found, missing } = cache.fresh(["SPY"], clock.now(), ASSET_RULES_CACHE_DEFAULTS.ttlMs);
   * ```
   */
  fresh(symbols: readonly string[], now: number, ttlMs: number): { found: AssetRules[]; missing: string[] } {
    const found: AssetRules[] = [];
    const missing: string[] = [];
    for (const s of new Set(symbols)) {
      const e = this.#entries.get(s);
      if (e !== undefined && ttlMs > 0 && now - e.readAt < ttlMs) found.push(e.rules);
      else missing.push(s);
    }
    return { found, missing };
  }

  /**
   * Keeps rules read from the broker, unless the symbol's rules were dropped after the read
   * was sent (the broker refused an order on them meanwhile).
   *
   * @param rules - the rules the broker returned
   * @param readAt - the local time the read was sent (ms)
   * @example
   * ```ts
   * const readAt = clock.now();
   * cache.store(await broker.getAssets(["SPY"]), readAt);
   * ```
   */
  store(rules: readonly AssetRules[], readAt: number): void {
    for (const r of rules) {
      const dropped = Math.max(this.#droppedAt.get(r.symbol) ?? Number.NEGATIVE_INFINITY, this.#clearedAt);
      if (readAt < dropped) continue;
      const had = this.#entries.get(r.symbol);
      if (had === undefined || had.readAt <= readAt) this.#entries.set(r.symbol, { rules: r, readAt });
    }
  }

  /**
   * Drops a symbol's rules: the next use reads them from the broker.
   *
   * @param symbol - the symbol
   * @param now - the local time (ms): a read sent before it is not stored
   * @example
   * ```ts
   * cache.drop("SPY", clock.now());
   * ```
   */
  drop(symbol: string, now: number): void {
    this.#entries.delete(symbol);
    this.#droppedAt.set(symbol, now);
  }

  /**
   * Drops every symbol's rules.
   *
   * @param now - the local time (ms): a read sent before it is not stored
   * @example
   * ```ts
   * cache.clear(clock.now());
   * ```
   */
  clear(now: number): void {
    this.#entries.clear();
    this.#droppedAt.clear();
    this.#clearedAt = now;
  }

  /**
   * How many symbols have rules kept (fresh or not).
   *
   * @returns the count
   * @example
   * ```ts
   * cache.size(); // 20
   * ```
   */
  size(): number {
    return this.#entries.size;
  }
}
