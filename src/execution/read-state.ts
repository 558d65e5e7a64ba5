import type { ExecutionRecord } from "../account/execution-record.js";
import { type SettleSettings, settleReads } from "../account/settle.js";
import type {
  AccountSnapshot,
  AssetRules,
  BrokerPort,
  MarketClock,
  OrderSnapshot,
  PositionSnapshot,
} from "../broker/broker-port.js";
import { isFinalBrokerStatus } from "../broker/vocabulary.js";
import { retryRead } from "../core/backoff.js";
import type { Clock } from "../core/clock.js";
import type { Decimal } from "../core/decimal.js";
import type { RebalanceTargets } from "../rebalance/rebalance-input.js";

/** What a rebalance reads from the broker before it plans: never older than the run. */
export interface FreshState {
  account: AccountSnapshot;
  positions: PositionSnapshot[];
  openOrders: OrderSnapshot[];
  clock: MarketClock | undefined;
  prices: Map<string, Decimal>;
  assets: AssetRules[];
  /** The clock when the reads were sent: a fill before it is in `positions`. */
  readAt: number;
  /**
   * Symbols whose position read did not settle (it may not show a fill the account's record
   * knows): nothing may be sized from them.
   */
  unsettled: readonly string[];
  /** Whether the account read did not settle: nothing may be sized from its cash or equity. */
  accountUnsettled: boolean;
  /** A sleeve's read: the open orders of other strategies (out of its plan, but a leg must not meet one). */
  foreignOpenOrders?: OrderSnapshot[];
  /** The account's order history the first wave listed, when it was listed. */
  history?: ListedHistory | undefined;
}

/** An order history read: every order submitted after `after` (broker time, ms), open or final. */
export interface ListedHistory {
  /** The local time the list was sent (ms). */
  readonly sentAt: number;
  /** The list reaches back to orders submitted after this time (ms, exclusive). */
  readonly after: number;
  /** The orders, as the broker listed them. */
  readonly orders: readonly OrderSnapshot[];
}

/** How fresh reads are made: the port, the clock their retries wait on, attempts and the signal. */
export interface StateReader {
  readonly broker: BrokerPort;
  readonly clock: Clock;
  /** Attempts of each read before it fails. */
  readonly attempts: number;
  readonly signal: AbortSignal | undefined;
  /** The account's record: position and account reads must settle against it. */
  readonly record: ExecutionRecord;
  /** How long reads may take to settle. */
  readonly settle: SettleSettings;
  /**
   * A first read also lists the orders submitted on the account this long before it (ms),
   * when the port keeps an order history: fills of other processes and people become known,
   * and the reads must show them too. 0: not listed.
   */
  readonly recentOrdersMs?: number | undefined;
}

/** The waits between attempts of a fresh read: 200 ms, doubling. */
const READ_BACKOFF = { initialMs: 200 } as const;

/**
 * Runs one read with the bounded retries of fresh reads.
 *
 * @param read - the read
 * @param reader - clock, attempts, signal
 * @returns the read's value
 * @throws the last error, or the abort reason
 */
export function readWithRetries<T>(
  read: () => Promise<T>,
  reader: Pick<StateReader, "clock" | "attempts" | "signal">,
): Promise<T> {
  return retryRead(read, {
    clock: reader.clock,
    attempts: reader.attempts,
    backoff: READ_BACKOFF,
    signal: reader.signal,
  });
}

/**
 * Fresh state in one wave: account, positions, open orders, the market clock, the recent order
 * history, and the prices and asset rules of the targeted symbols, all in parallel. Only a
 * symbol the targets do not name (held, or with an open order) has its price and rules read
 * after the positions and open orders that name it. With `previous`, the market clock and
 * asset rules are reused and the prices it knows are refreshed in the same wave (the re-read
 * after the sells needs account, positions, open orders and current prices).
 *
 * @remarks
 * Position and account reads settle before they are returned: each must show every fill the
 * account's record knows (they lag the order book), or it is read again once old enough; what
 * does not settle within the bound is returned in `unsettled` / `accountUnsettled`. Prices and
 * asset rules are not derived from fills and need no settling.
 *
 * @param reader - the port, clock, attempts, signal, record and settle settings
 * @param targets - the parsed targets (their symbols are read)
 * @param options - `extraSymbol` to read as well; `previous`, the read this one refreshes
 * @returns the state
 * @throws the error of a read that failed every attempt, or the abort reason
 */
export async function readFreshState(
  reader: StateReader,
  targets: RebalanceTargets,
  options: {
    extraSymbol?: string | undefined;
    previous?: FreshState | undefined;
    historyMs?: number | undefined;
  } = {},
): Promise<FreshState> {
  const { broker, signal } = reader;
  const { previous } = options;
  const retried = <T>(read: () => Promise<T>) => readWithRetries(read, reader);
  const pricesOf = (symbols: readonly string[]) =>
    symbols.length > 0
      ? retried(() => broker.getLatestPrices(symbols, { signal }))
      : Promise.resolve(new Map<string, Decimal>());
  const assetsOf = (symbols: readonly string[]) =>
    symbols.length > 0 ? retried(() => broker.getAssets(symbols, { signal })) : Promise.resolve([]);
  // A re-read refreshes the prices it already knows in the same wave as the account: buys
  // are sized on prices read after the sells, not on the ones read before them. A first read
  // asks for the targeted symbols' prices and rules in that wave too.
  const firstAt = reader.clock.now();
  const early =
    previous === undefined
      ? symbolsInvolved(targets, [], [], options.extraSymbol)
      : [...previous.prices.keys()].sort();
  const positionsRead = retried(() => broker.getPositions({ signal }));
  const ordersRead = readOrders(reader, firstAt, options.historyMs);
  // The symbols only the positions or open orders name: read as soon as those arrive.
  const laterRead = Promise.all([positionsRead, ordersRead]).then(([positions, orders]) => {
    const asked = new Set(early);
    const later = symbolsInvolved(targets, positions, orders.open, options.extraSymbol).filter(
      (s) => !asked.has(s),
    );
    return Promise.all([pricesOf(later), assetsOf(later)]);
  });
  const [account, positions, orders, clock, earlyPrices, earlyAssets, [laterPrices, laterAssets]] =
    await Promise.all([
      retried(() => broker.getAccount({ signal })),
      positionsRead,
      ordersRead,
      previous !== undefined ? Promise.resolve(previous.clock) : retried(() => broker.getClock({ signal })),
      pricesOf(early),
      previous !== undefined ? Promise.resolve(previous.assets) : assetsOf(early),
      laterRead,
    ]);
  const openOrders = orders.open;
  const symbols = symbolsInvolved(targets, positions, openOrders, options.extraSymbol);
  const settled = await settleState(reader, symbols, { account, positions, openOrders, readAt: firstAt });
  // In symbol order, whichever wave read them.
  const prices = new Map(
    [...new Map([...(previous?.prices ?? []), ...earlyPrices, ...laterPrices])].sort(byKey),
  );
  const assets =
    laterAssets.length === 0
      ? earlyAssets
      : [...earlyAssets, ...laterAssets].sort((a, b) => compare(a.symbol, b.symbol));
  return { ...settled, clock, prices, assets, history: orders.history };
}

/**
 * The account's open orders, and its recent order history learned by the record: one
 * order-history call when a list reaching back at most twice the wanted window holds every
 * order that may be open (see `ExecutionRecord.openOrdersCoverFrom`): its open orders are
 * then all the account's open orders. Otherwise the open orders and the recent history are
 * two calls, as without an order history the open orders are one.
 *
 * @remarks Both are order reads (the order book is current): the open orders taken from a
 * covering history are exactly the ones the open-order read would list.
 *
 * @param reader - the port, clock, attempts, signal, record and `recentOrdersMs`
 * @param readAt - the local time of the reads it goes with (ms)
 * @param historyMs - list the history this far back at least (a resumed run's lookback)
 * @returns the open orders, and the history listed (undefined when none was)
 * @throws the error of an open-order read that failed every attempt, or the abort reason
 */
export async function readOrders(
  reader: Pick<StateReader, "broker" | "clock" | "attempts" | "signal" | "record" | "recentOrdersMs">,
  readAt: number,
  historyMs?: number,
): Promise<{ open: OrderSnapshot[]; history: ListedHistory | undefined }> {
  const { broker, signal, record } = reader;
  const ms = Math.max(reader.recentOrdersMs ?? 0, historyMs ?? 0);
  const list = broker.listOrders;
  const cover = record.openOrdersCoverFrom();
  if (ms > 0 && list !== undefined && broker.capabilities.orderHistory === true && cover !== undefined) {
    const after = Math.min(readAt - ms, cover);
    if (readAt - after <= 2 * ms) {
      try {
        const orders = await readWithRetries(
          () => list.call(broker, { status: "all", after: new Date(after) }, { signal }),
          reader,
        );
        record.noteOpenOrdersListed(readAt);
        return {
          open: orders.filter((o) => !isFinalBrokerStatus(o.status)),
          history: { sentAt: readAt, after, orders },
        };
      } catch (e) {
        if (signal?.aborted) throw e;
        // The open orders are read on their own below.
      }
    }
  }
  const [open, history] = await Promise.all([
    readWithRetries(() => broker.listOpenOrders({ signal }), reader),
    learnRecentOrders(reader, readAt, ms),
  ]);
  record.noteOpenOrdersListed(readAt);
  return { open, history };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byKey = <V>(a: readonly [string, V], b: readonly [string, V]): number => compare(a[0], b[0]);

/**
 * Lists the orders submitted on the account recently (the port's order history), so that what
 * they filled is known to the record (the port the reader uses learns every order it reads).
 * Every round of reads that settles against the record lists them: a read that lags can match
 * this process's own fills exactly when another party traded the same shares meanwhile, and
 * only the other party's order tells the two apart. Nothing is learned from a port without a
 * history, or when the list fails: the reads then settle against the fills this process knows.
 *
 * @param reader - the port, clock, attempts, signal and `recentOrdersMs`
 * @param readAt - the local time of the reads it goes with (ms)
 * @param lookbackMs - how far back to list (ms); `recentOrdersMs` by default
 * @returns the list, or undefined when nothing was listed
 */
export async function learnRecentOrders(
  reader: Pick<StateReader, "broker" | "clock" | "attempts" | "signal" | "recentOrdersMs">,
  readAt: number,
  lookbackMs: number = reader.recentOrdersMs ?? 0,
): Promise<ListedHistory | undefined> {
  const { broker, signal } = reader;
  const list = broker.listOrders;
  if (lookbackMs <= 0 || list === undefined || broker.capabilities.orderHistory !== true) return undefined;
  const after = readAt - lookbackMs;
  try {
    const orders = await readWithRetries(
      () => list.call(broker, { status: "all", after: new Date(after) }, { signal }),
      reader,
    );
    return { sentAt: readAt, after, orders };
  } catch (e) {
    if (signal?.aborted) throw e;
    return undefined;
  }
}

/** A position/account/open-orders read and when it was sent. */
interface AccountRead {
  account: AccountSnapshot;
  positions: PositionSnapshot[];
  openOrders: OrderSnapshot[];
  readAt: number;
}

/**
 * Settles a first read: re-reads the account, positions and open orders until the position
 * reads of `symbols` and the account read show every fill the record knows, or the bound
 * passes.
 */
async function settleState(
  reader: StateReader,
  symbols: readonly string[],
  first: AccountRead,
): Promise<AccountRead & { unsettled: readonly string[]; accountUnsettled: boolean }> {
  const { broker, signal } = reader;
  const retried = <T>(read: () => Promise<T>) => readWithRetries(read, reader);
  let last = first;
  let rounds = 0;
  const settled = await settleReads({
    ...reader.settle,
    record: reader.record,
    clock: reader.clock,
    signal,
    symbols,
    account: true,
    read: async () => {
      if (rounds++ > 0) {
        const readAt = reader.clock.now();
        const [account, positions, orders] = await Promise.all([
          retried(() => broker.getAccount({ signal })),
          retried(() => broker.getPositions({ signal })),
          readOrders(reader, readAt),
        ]);
        last = { account, positions, openOrders: orders.open, readAt };
      }
      return last;
    },
  });
  return { ...last, unsettled: settled.unsettled, accountUnsettled: settled.accountUnsettled };
}

/**
 * Every symbol a plan may touch, sorted: targeted, held, with an open order, or named.
 *
 * @param targets - the parsed targets
 * @param positions - the positions read
 * @param openOrders - the open orders read
 * @param extraSymbol - one more symbol, if any
 * @returns the symbols
 */
export function symbolsInvolved(
  targets: RebalanceTargets,
  positions: readonly PositionSnapshot[],
  openOrders: readonly OrderSnapshot[],
  extraSymbol: string | undefined,
): string[] {
  const targetMap =
    "weights" in targets ? targets.weights : "quantities" in targets ? targets.quantities : targets.notionals;
  return [
    ...new Set([
      ...Object.keys(targetMap ?? {}),
      ...positions.map((p) => p.symbol),
      ...openOrders.map((o) => o.symbol),
      ...(extraSymbol ? [extraSymbol] : []),
    ]),
  ].sort();
}
