import type { BrokerPort } from "../broker/broker-port.js";
import { WRAPPED_PORT } from "../broker/checked-broker.js";
import { AsyncMutex } from "../core/async-mutex.js";
import type { JournalStore } from "../journal/journal-store.js";
import { memoryJournal } from "../journal/memory-journal.js";
import { AssetRulesCache } from "./asset-rules-cache.js";
import { ExecutionRecord } from "./execution-record.js";
import { MarketClockCache } from "./market-clock-cache.js";

/** What this process keeps for one account. */
export interface AccountState {
  /** Every order and fill this process knows on the account. */
  readonly record: ExecutionRecord;
  /** Runs on the account one at a time within the process (a queue). */
  readonly runs: AsyncMutex;
  /** The journal used when none is given: the life of the process. */
  readonly journal: JournalStore;
  /** The asset rules read on the account, reused within a TTL (see `cachedReadsPort`). */
  readonly assets: AssetRulesCache;
  /** The last market clock read on the account, reused until shortly before its next open or close. */
  readonly marketClock: MarketClockCache;
  /** Numbers the runs started on the account in this process, whichever service starts them: 1, 2, 3, … */
  readonly nextRunNumber: () => number;
}

/**
 * The account state of every port this process has used, keyed by the innermost port object.
 * A registry keyed weakly by the injected port (not process-wide mutable state in the sense
 * CONVENTIONS forbids): two services given the same port must share what they know of its
 * account without the caller wiring it, and the state dies with the port.
 */
const states = new WeakMap<object, AccountState>();

/**
 * The innermost port behind any number of ordersafe wrappers.
 *
 * @param port - a port, wrapped or not
 * @returns the port the wrappers were made from
 */
export function innermostPort(port: BrokerPort): BrokerPort {
  let p: BrokerPort = port;
  for (let i = 0; i < 100; i++) {
    const inner: unknown = Reflect.get(p, WRAPPED_PORT);
    if (!isPortLike(inner) || inner === p) return p;
    p = inner;
  }
  return p;
}

function isPortLike(v: unknown): v is BrokerPort {
  return typeof v === "object" && v !== null && typeof Reflect.get(v, "getAccount") === "function";
}

/**
 * Marks `wrapper` as a wrapper of `port` (see {@link innermostPort}).
 *
 * @param wrapper - the wrapper object
 * @param port - the port it wraps
 */
export function markWrapper(wrapper: object, port: BrokerPort): void {
  Object.defineProperty(wrapper, WRAPPED_PORT, { value: port, enumerable: false });
}

/**
 * The state this process keeps for the account behind `port` (created on first use).
 *
 * @param port - any port or wrapper of one
 * @returns the account's state
 * @example
 * ```ts
 * accountStateOf(broker).record.lastFillBy("AAA");
 * ```
 */
export function accountStateOf(port: BrokerPort): AccountState {
  const key = innermostPort(port);
  let s = states.get(key);
  if (s === undefined) {
    let runs = 0;
    s = {
      record: new ExecutionRecord(),
      runs: new AsyncMutex(),
      journal: memoryJournal(),
      assets: new AssetRulesCache(),
      marketClock: new MarketClockCache(),
      nextRunNumber: () => ++runs,
    };
    states.set(key, s);
  }
  return s;
}
