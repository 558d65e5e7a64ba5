import type {
  AssetRules,
  BrokerCallArgs,
  BrokerMethod,
  BrokerPort,
  CallOptions,
  MarketClock,
  OrderUpdate,
} from "../broker/broker-port.js";
import { wrapBrokerPort } from "../broker/checked-broker.js";
import type { Clock } from "../core/clock.js";
import { isBrokerError } from "../core/errors.js";
import { ASSET_REFUSAL_CODES, type AssetRulesCache } from "./asset-rules-cache.js";
import type { MarketClockCache } from "./market-clock-cache.js";
import { isOrderSnapshot } from "./observed-port.js";

/** What {@link cachedReadsPort} needs: the account's caches, the clock, how long each read is reused. */
export interface CachedReadsSettings {
  /** The account's asset rules (`accountStateOf(port).assets`). */
  readonly assets: AssetRulesCache;
  /** The account's market clock read (`accountStateOf(port).marketClock`). */
  readonly marketClock: MarketClockCache;
  /** The clock that dates reads. */
  readonly clock: Clock;
  /** How long asset rules are reused (ms); 0: always read. */
  readonly assetRulesTtlMs: number;
  /** How long a market clock read is reused (ms); 0: always read. */
  readonly clockTtlMs: number;
}

const isAssetRefusal = (e: unknown): boolean =>
  isBrokerError(e) && ASSET_REFUSAL_CODES.some((c) => c === e.code);

/**
 * Wraps a port so that `getAssets` reads only the symbols whose rules the account's cache
 * does not hold from the last `assetRulesTtlMs`, and `getClock` reuses the last clock read
 * until shortly before the open or close it announced (at most `clockTtlMs`). A broker
 * refusal for an asset reason (or an order the broker rejected) drops the symbol's rules; a
 * refusal because the market is closed drops the clock read.
 *
 * @remarks
 * A call served from a cache sends nothing: a counting wrapper outside this one counts only
 * what reaches the broker. Every other call is forwarded unchanged. Neither cache can get an
 * order past the broker: the broker checks each order against its current rules and hours.
 *
 * @param port - the port (checked)
 * @param settings - the caches, the clock, the TTLs
 * @returns a port with the same behaviour and fewer reads
 * @example
 * ```ts
 * const { assets, marketClock } = accountStateOf(broker);
 * const port = cachedReadsPort(checkBroker(broker), { assets, marketClock, clock, assetRulesTtlMs: 3_600_000, clockTtlMs: 900_000 });
 * ```
 */
export function cachedReadsPort(port: BrokerPort, settings: CachedReadsSettings): BrokerPort {
  const { assets, marketClock, clock } = settings;
  const getAssets = async (symbols: readonly string[], opts?: CallOptions): Promise<AssetRules[]> => {
    const readAt = clock.now();
    const { found, missing } = assets.fresh(symbols, readAt, settings.assetRulesTtlMs);
    if (missing.length === 0) return found;
    const read = await port.getAssets(missing, opts);
    assets.store(read, readAt);
    const bySymbol = new Map([...found, ...read].map((r) => [r.symbol, r]));
    return [...new Set(symbols)].flatMap((s) => {
      const r = bySymbol.get(s);
      return r === undefined ? [] : [r];
    });
  };
  const getClock = async (opts?: CallOptions): Promise<MarketClock> => {
    const readAt = clock.now();
    const cached = marketClock.fresh(readAt, settings.clockTtlMs);
    if (cached !== undefined) return cached;
    const read = await port.getClock(opts);
    marketClock.store(read, readAt);
    return read;
  };
  const forgetRejected = (reply: unknown): void => {
    if (isOrderSnapshot(reply) && reply.status === "rejected") assets.drop(reply.symbol, clock.now());
  };
  return wrapBrokerPort(port, {
    call: async (method, call, args) => {
      if (method === "getAssets") return invoke(getAssets, args);
      if (method === "getClock") return invoke(getClock, args);
      try {
        const reply = await call();
        // Lists hold old rejections too: only a single order's reply (or an update) drops rules.
        forgetRejected(reply);
        return reply;
      } catch (e) {
        if (isAssetRefusal(e)) forgetRefused(assets, method, args, clock.now());
        if (isBrokerError(e, "market_closed")) marketClock.drop(clock.now());
        throw e;
      }
    },
    subscribe: (listener) =>
      port.subscribeOrderUpdates({
        onUpdate(update: OrderUpdate) {
          forgetRejected(update.order);
          listener.onUpdate(update);
        },
        onStatus: (status) => listener.onStatus?.(status),
      }),
  });
}

/** Drops the rules of the symbol a refused write named; a refused replace names none: all go. */
function forgetRefused<M extends BrokerMethod>(
  cache: AssetRulesCache,
  method: M,
  args: Readonly<BrokerCallArgs[M]>,
  now: number,
): void {
  const [first] = args;
  if (method === "submitOrder" && typeof first === "object" && first !== null) {
    const symbol: unknown = Reflect.get(first, "symbol");
    if (typeof symbol === "string") cache.drop(symbol, now);
  } else if (method === "closePosition" && typeof first === "string") {
    cache.drop(first, now);
  } else if (method === "replaceOrder") {
    cache.clear(now);
  }
}

/** Calls `fn` with a call's arguments (the reply's type is the call's). */
function invoke<T>(fn: (...args: never[]) => Promise<unknown>, args: readonly unknown[]): Promise<T> {
  const reply: Promise<T> = Reflect.apply(fn, undefined, args);
  return reply;
}
