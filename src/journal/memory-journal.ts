import { z } from "zod";
import { type Clock, systemClock } from "../core/clock.js";
import { parseInput, zClock } from "../core/validation.js";
import { checkCall, prepareBatch, runEndEntry, sequenceError } from "./journal-batch.js";
import type { JournalEntry, JournalEntryInput, RunOutcome, RunStartEntry } from "./journal-entry.js";
import type {
  CompactResult,
  FinishRunOptions,
  JournalAppendOptions,
  JournalCallOptions,
  JournalStore,
  OpenRuns,
} from "./journal-store.js";
import { RunIndex } from "./run-index.js";

/** Options of {@link memoryJournal}. */
export interface MemoryJournalOptions {
  /** Stamps entries written without `at`. @defaultValue systemClock */
  clock?: Clock;
}

const MemoryJournalOptionsSchema = z.object({ clock: zClock.optional() }).strict();

/**
 * A journal held in this process's memory: the default. It follows the same rules as
 * {@link fileJournal}, and finds a run this process left unfinished (an aborted or thrown
 * rebalance), but nothing survives the process.
 *
 * @param options - `clock`
 * @returns a {@link JournalStore}
 * @throws ValidationError (`validation`) for unknown or malformed options
 * @example
 * ```ts
 * const journal = memoryJournal();
 * const { runs } = await journal.openRuns("PA123");
 * ```
 */
export function memoryJournal(options: MemoryJournalOptions = {}): JournalStore {
  const opts = parseInput(MemoryJournalOptionsSchema, options, "options");
  return new MemoryJournal(opts.clock ?? systemClock);
}

class MemoryJournal implements JournalStore {
  readonly id = "memory";
  private readonly accounts = new Map<string, RunIndex>();
  private closed = false;

  constructor(private readonly clock: Clock) {}

  private index(account: string): RunIndex {
    let index = this.accounts.get(account);
    if (index === undefined) {
      index = new RunIndex(true);
      this.accounts.set(account, index);
    }
    return index;
  }

  async append(account: string, entries: readonly JournalEntryInput[], options: JournalAppendOptions = {}) {
    checkCall(account, this.closed, options.signal);
    const batch = prepareBatch(entries, this.clock.now());
    const index = this.index(account);
    const violation = index.check(batch);
    if (violation !== undefined) throw sequenceError(account, violation);
    index.apply(batch);
  }

  async openRuns(account: string, options: JournalCallOptions = {}): Promise<OpenRuns> {
    checkCall(account, this.closed, options.signal);
    // Copies: what the caller does with them never reaches the journal.
    const runs = this.index(account)
      .openRuns()
      .map((r) => {
        const entries = structuredClone(r.entries) as JournalEntry[];
        return { runId: r.runId, start: entries[0] as RunStartEntry, entries };
      });
    return { runs, warnings: [] };
  }

  async finishRun(account: string, runId: string, outcome: RunOutcome, options: FinishRunOptions = {}) {
    checkCall(account, this.closed, options.signal);
    const end = runEndEntry(runId, outcome, options, this.clock.now());
    const index = this.index(account);
    if (!index.isOpen(runId)) return false;
    index.apply([end]);
    return true;
  }

  async compact(account: string, options: JournalCallOptions = {}): Promise<CompactResult> {
    checkCall(account, this.closed, options.signal);
    return this.index(account).dropFinished();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
