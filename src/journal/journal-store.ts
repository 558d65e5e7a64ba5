import { z } from "zod";
import { zWithMethods } from "../core/validation.js";
import type { JournalEntry, JournalEntryInput, RunOutcome, RunStartEntry } from "./journal-entry.js";

/** Options of {@link JournalStore.append}. */
export interface JournalAppendOptions {
  /**
   * Resolve only once the entries are on the store's durable medium (the file store:
   * after an fdatasync). Write a `send` durably right before the broker call it precedes.
   * @defaultValue false
   */
  durable?: boolean;
  /** Aborted before the call: it throws the abort reason and writes nothing. A write under way completes. */
  signal?: AbortSignal;
}

/** Options of {@link JournalStore.finishRun}. */
export interface FinishRunOptions {
  /** For `superseded`: the run that took over. */
  by?: string;
  /** A short note kept with the run's end (why it was abandoned). */
  note?: string;
  /** Aborted before the call: it throws the abort reason and writes nothing. */
  signal?: AbortSignal;
}

/** Options of the store's reads and maintenance calls. */
export interface JournalCallOptions {
  /** Aborted before the call: it throws the abort reason and does nothing. */
  signal?: AbortSignal;
}

/** A run started and not finished, with everything it wrote. */
export interface JournalRun {
  /** The run's id. */
  readonly runId: string;
  /** Its `run_start` entry (also `entries[0]`). */
  readonly start: RunStartEntry;
  /** Every entry of the run, in the order written. */
  readonly entries: readonly JournalEntry[];
}

/**
 * Something the store found that the caller should know, never silently passed over:
 * `torn_tail` (the last line of the file was cut short, by a crash in the middle of a write:
 * the entries before it are intact; it is moved aside by the next write), `stale_lock` (the
 * account's lock was held by a process that is gone, and was taken over).
 */
export type JournalWarning =
  | {
      readonly kind: "torn_tail";
      readonly account: string;
      /** Byte offset of the torn line in the journal file. */
      readonly offset: number;
      /** Its length in bytes. */
      readonly length: number;
      /** Whether it has been moved out of the journal (to `savedTo`). */
      readonly repaired: boolean;
      /** The file its bytes were copied to, once repaired. */
      readonly savedTo?: string;
      readonly message: string;
    }
  | {
      readonly kind: "stale_lock";
      readonly account: string;
      /** The dead holder's process id, host and start time (ms). */
      readonly pid: number;
      readonly hostname: string;
      readonly startedAt: number;
      readonly message: string;
    };

/** What {@link JournalStore.openRuns} returns. */
export interface OpenRuns {
  /** Every run started and not finished, in the order they started. */
  readonly runs: readonly JournalRun[];
  /** What the store found on the way (a torn last line, a stale lock taken over). */
  readonly warnings: readonly JournalWarning[];
}

/** What {@link JournalStore.compact} did. */
export interface CompactResult {
  /** Finished runs removed. */
  readonly removedRuns: number;
  /** Entries removed with them. */
  readonly removedEntries: number;
  /** Entries of open runs kept. */
  readonly keptEntries: number;
}

/**
 * Where a rebalance records what it means to do and what it sent, so that a run cut short
 * by a crash is found, and its orders looked up rather than placed again, by the next run on
 * the account (in this process or another).
 *
 * @remarks
 * The journal holds intents and sends and the broker's answers, never derived state (no
 * positions rebuilt from fills, no reserved cash): the broker's order book stays the truth.
 *
 * Rules every implementation enforces, per account, before writing anything of a batch
 * (a batch is all or nothing):
 * - a run starts once (`run_start`); every other entry names an open run;
 * - a `send`'s `sendId` is used once in its run; an `answer` names an earlier send of its
 *   run and is its only answer;
 * - a run ends only through {@link JournalStore.finishRun}; nothing is appended after;
 * - entries are returned in the order they were appended.
 *
 * A compacted-away run is forgotten: its runId may start again.
 *
 * Implementations: {@link memoryJournal} (the life of the process), {@link fileJournal}
 * (JSON lines, fsync, one process per account), and a Redis one (lists and Lua scripts) for
 * several processes or machines.
 *
 * @example
 * ```ts
 * const journal = fileJournal("/var/lib/mybot/journal");
 * await journal.append("PA123", [{ type: "run_start", runId, targets, options, account, positions }]);
 * await journal.append("PA123", [{ type: "send", runId, sendId: coid, op: "submit", request }], { durable: true });
 * const order = await broker.submitOrder(request);
 * await journal.append("PA123", [{ type: "answer", runId, sendId: coid, result: "accepted", order: { id: order.id, status: order.status, filledQty: order.filledQty } }]);
 * await journal.finishRun("PA123", runId, "completed");
 * ```
 */
export interface JournalStore {
  /** What the store is (`"memory"`, `"file:/var/lib/mybot/journal"`). */
  readonly id: string;

  /**
   * Appends entries to an account's journal, in order, all or nothing.
   *
   * @param account - the account (any non-empty string: the broker's account number)
   * @param entries - the entries; `v` and `at` default to the format version and the store's clock
   * @param options - `durable`: resolve only once on durable storage; `signal`
   * @throws ValidationError (`validation`) for a malformed entry or a `run_end`, nothing written
   * @throws OrdersafeError (`invalid_state`) for an entry the run's state refuses (see the rules), nothing written
   * @throws OrdersafeError (`journal_locked`) when another live process holds the account's journal
   * @throws OrdersafeError (`journal_io`) when the write or the sync failed
   */
  append(
    account: string,
    entries: readonly JournalEntryInput[],
    options?: JournalAppendOptions,
  ): Promise<void>;

  /**
   * Every run of the account that started and did not finish, each with its entries in
   * order, and the warnings the store has for the account.
   *
   * @param account - the account
   * @param options - `signal`
   * @returns the open runs and the warnings
   * @throws OrdersafeError (`journal_corrupt`) when a stored entry other than the last fails its check
   * @throws OrdersafeError (`journal_locked`) / (`journal_io`) as for append
   */
  openRuns(account: string, options?: JournalCallOptions): Promise<OpenRuns>;

  /**
   * Marks a run finished: appends its `run_end`, durably.
   *
   * @param account - the account
   * @param runId - the run
   * @param outcome - `completed`, `abandoned` or `superseded`
   * @param options - `by` (the superseding run), `note`, `signal`
   * @returns true when this call finished the run; false when it was not open (never
   *   started, already finished, or compacted away)
   * @throws OrdersafeError (`journal_locked`) / (`journal_io`) as for append
   */
  finishRun(
    account: string,
    runId: string,
    outcome: RunOutcome,
    options?: FinishRunOptions,
  ): Promise<boolean>;

  /**
   * Removes the finished runs of an account from its journal.
   *
   * @param account - the account
   * @param options - `signal`
   * @returns what was removed and kept
   * @throws OrdersafeError (`journal_corrupt`) / (`journal_locked`) / (`journal_io`)
   */
  compact(account: string, options?: JournalCallOptions): Promise<CompactResult>;

  /**
   * Waits for the calls under way, then releases what the store holds (a file store's locks).
   * Idempotent; any later call throws `invalid_state`.
   */
  close(): Promise<void>;
}

/** An injected {@link JournalStore}, checked by shape. */
export const zJournalStore = zWithMethods<JournalStore>("a JournalStore", [
  "append",
  "openRuns",
  "finishRun",
  "compact",
  "close",
]);

/** An account name: any non-empty string of at most 256 characters. */
export const zAccount = z.string().min(1).max(256);
