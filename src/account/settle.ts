import type { AccountSnapshot, PositionSnapshot } from "../broker/broker-port.js";
import type { Clock } from "../core/clock.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import type { ExecutionRecord } from "./execution-record.js";

/**
 * How a read is judged against the record:
 * - `match`: it shows the trusted baseline plus every known fill since;
 * - `aged`: it was taken at least `settleMs` after the last known fill (it shows them all,
 *   and anything else that happened: an outside trade);
 * - `pending`: neither yet: it may not show a fill the record knows.
 */
export type ReadVerdict = "match" | "aged" | "pending";

/** The settling settings every service shares. */
export interface SettleSettings {
  /**
   * A position or account read taken this long after the last known fill is trusted even
   * when it differs from the record (ms). Alpaca's position and account reads have been seen
   * to lag the order book by up to ~10 s. @defaultValue 10000
   */
  settleMs: number;
  /** The longest wait for a read to settle before it is reported `unsettled` (ms). @defaultValue 30000 */
  settleTimeoutMs: number;
  /**
   * The first wait before a read that does not match is read again (ms); each later wait
   * doubles, and none goes past the time the read is trusted by age. Lag is usually far
   * shorter than `settleMs`, so a read that catches up is used as soon as it matches.
   * @defaultValue 250
   */
  settlePollMs: number;
}

/** The defaults of {@link SettleSettings}. */
export const SETTLE_DEFAULTS: SettleSettings = {
  settleMs: 10_000,
  settleTimeoutMs: 30_000,
  settlePollMs: 250,
};

/**
 * Judges a position read of one symbol.
 *
 * @param record - what this process knows of the account
 * @param symbol - the symbol
 * @param qty - the shares the read showed (0 when the position was absent)
 * @param readAt - the local time the read was sent (ms)
 * @param settleMs - see {@link SettleSettings}
 * @returns the verdict
 * @example
 * ```ts
 * judgePosition(record, "AAA", new Decimal(50), readAt, 10_000); // "match"
 * ```
 */
export function judgePosition(
  record: ExecutionRecord,
  symbol: string,
  qty: Decimal,
  readAt: number,
  settleMs: number,
): ReadVerdict {
  const expected = record.expectedQty(symbol);
  if (expected?.eq(qty)) return "match";
  return readAt >= record.lastFillBy(symbol) + settleMs ? "aged" : "pending";
}

/**
 * Judges an account read by its cash: it matches when it equals the trusted cash plus the
 * cash every known fill since moved, to a cent per fill (average prices are rounded).
 *
 * @param record - what this process knows of the account
 * @param cash - the cash the read showed
 * @param readAt - the local time the read was sent (ms)
 * @param settleMs - see {@link SettleSettings}
 * @returns the verdict
 */
export function judgeCash(
  record: ExecutionRecord,
  cash: Decimal,
  readAt: number,
  settleMs: number,
): ReadVerdict {
  const expected = record.expectedCash();
  if (expected !== undefined) {
    const slack = 0.01 * Math.max(1, record.fillsSinceCashBaseline());
    if (expected.minus(cash).abs().lte(slack)) return "match";
  }
  return readAt >= record.lastFillBy() + settleMs ? "aged" : "pending";
}

/** One round of reads: what the caller's `read` returns. */
export interface ReadRound {
  /** Every non-zero position. */
  positions: PositionSnapshot[];
  /** The account, when asked for. */
  account?: AccountSnapshot | undefined;
  /** The local time the reads were sent (ms). */
  readAt: number;
}

/** What {@link settleReads} ends with. */
export interface SettledReads {
  /** The last round's positions. */
  positions: PositionSnapshot[];
  /** The last round's account. */
  account: AccountSnapshot | undefined;
  /** When the last round was sent. */
  readAt: number;
  /** Symbols whose read never settled within the bound: nothing may be decided from them. */
  unsettled: string[];
  /** Whether the account read never settled within the bound. */
  accountUnsettled: boolean;
  /** Rounds of reads made (1 when the first one settled). */
  rounds: number;
  /**
   * What this process's own fills implied for each symbol judged in the last round, before
   * that round was trusted (undefined for a symbol with no trusted read yet): a settled read
   * that differs from it is a real difference (drift), not lag. Other parties' fills the order
   * history showed are left out: they settle the reads, and they are drift.
   */
  expected: ReadonlyMap<string, Decimal | undefined>;
}

/** Options of {@link settleReads}. */
export interface SettleReadsOptions extends SettleSettings {
  /** The account's record. */
  record: ExecutionRecord;
  /** The clock every wait runs on. */
  clock: Clock;
  /** Aborts the waits. */
  signal?: AbortSignal | undefined;
  /** Makes one round of reads (and learns any orders it read into the record first). */
  read: () => Promise<ReadRound>;
  /** The symbols that must settle; `"all"`: every symbol read or known to the record. */
  symbols: readonly string[] | "all";
  /** Whether the account read must settle too. */
  account: boolean;
}

/**
 * Reads until the position reads of `symbols` (and the account read) settle: each read must
 * match the record, or be old enough to show every fill the record knows. Between rounds it
 * waits on the injected clock, `settlePollMs` first and twice as long each time, never past
 * the time the pending reads can be trusted by age; when even that time is past
 * `settleTimeoutMs`, the reads still pending are reported unsettled at once. A round whose
 * pending reads were all sent before the fills they lack (learned while the reads were on
 * their way) is read again at once, without a wait: it could not have shown them.
 *
 * @param options - record, clock, signal, read, symbols, account, settleMs, settleTimeoutMs
 * @returns the settled reads and what did not settle
 * @throws whatever `read` throws; the abort reason when the signal aborts
 * @example
 * ```ts
 * const s = await settleReads({ ...SETTLE_DEFAULTS, record, clock, read, symbols: "all", account: true });
 * if (s.unsettled.length > 0) console.warn("not trusted:", s.unsettled);
 * ```
 */
export async function settleReads(options: SettleReadsOptions): Promise<SettledReads> {
  const { record, clock, settleMs } = options;
  const deadline = clock.now() + options.settleTimeoutMs;
  let rounds = 0;
  let pollMs = Math.max(1, options.settlePollMs);
  // Whether the last round was an immediate re-read (never two in a row).
  let again = false;
  for (;;) {
    const round = await options.read();
    rounds++;
    const held = new Map(round.positions.map((p) => [p.symbol, p.qty]));
    const symbols =
      options.symbols === "all"
        ? [...new Set([...held.keys(), ...record.ordersOn().map((o) => o.symbol)])]
        : options.symbols;
    const pending: string[] = [];
    const expected = new Map<string, Decimal | undefined>();
    for (const s of symbols) {
      const qty = held.get(s) ?? ZERO;
      expected.set(s, record.expectedQty(s, "own"));
      if (judgePosition(record, s, qty, round.readAt, settleMs) === "pending") pending.push(s);
      else record.trustPosition(s, qty);
    }
    let accountPending = false;
    if (options.account && round.account !== undefined) {
      accountPending = judgeCash(record, round.account.cash, round.readAt, settleMs) === "pending";
      if (!accountPending) record.trustCash(round.account.cash);
    }
    const done = (unsettled: string[], accountUnsettled: boolean): SettledReads => ({
      positions: round.positions,
      account: round.account,
      readAt: round.readAt,
      unsettled,
      accountUnsettled,
      rounds,
      expected,
    });
    if (pending.length === 0 && !accountPending) return done([], false);
    // The earliest time every pending read can be trusted by age.
    let wakeAt = Math.max(...pending.map((s) => record.lastFillBy(s) + settleMs), Number.NEGATIVE_INFINITY);
    if (accountPending) wakeAt = Math.max(wakeAt, record.lastFillBy() + settleMs);
    if (wakeAt > deadline) return done(pending.sort(), accountPending);
    // A read sent before the fill it lacks had happened (the fill was learned while the read was
    // on its way) has nothing to wait for: it could not show it. It is read again at once, once.
    const stale: boolean = !again && sentBeforeFills(record, pending, accountPending, round.readAt);
    again = stale;
    if (stale) continue;
    await clock.sleep(Math.max(1, Math.min(pollMs, wakeAt - clock.now())), options.signal);
    pollMs *= 2;
  }
}

/** Whether each pending read was sent before the last fill known on it was dated. */
function sentBeforeFills(
  record: ExecutionRecord,
  pending: readonly string[],
  accountPending: boolean,
  readAt: number,
): boolean {
  if (accountPending && readAt >= record.lastFillBy()) return false;
  return pending.every((s) => readAt < record.lastFillBy(s));
}
