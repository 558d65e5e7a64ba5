import { throwIfAborted } from "../core/clock.js";
import { OrdersafeError, ValidationError } from "../core/errors.js";
import { parseInput } from "../core/validation.js";
import {
  JOURNAL_ENTRY_VERSION,
  type JournalEntry,
  type JournalEntryInput,
  JournalEntrySchema,
  RUN_OUTCOMES,
  type RunOutcome,
} from "./journal-entry.js";
import { type FinishRunOptions, zAccount } from "./journal-store.js";
import type { SequenceViolation } from "./run-index.js";

// What both stores do the same way before they touch their medium.

/**
 * Checks the account name and the caller's signal, and that the store is open.
 *
 * @throws the abort reason; OrdersafeError (`invalid_state`) once closed; ValidationError for a bad account
 */
export function checkCall(account: string, closed: boolean, signal: AbortSignal | undefined): void {
  throwIfAborted(signal);
  if (closed) throw new OrdersafeError("invalid_state", "the journal is closed");
  parseInput(zAccount, account, "account");
}

/**
 * Stamps, checks and normalises a batch: `v` and `at` filled in, decimals as strings,
 * times as ISO strings.
 *
 * @param entries - the caller's entries
 * @param now - the store's clock reading for entries without `at`
 * @returns the parsed entries
 * @throws ValidationError (`validation`) for a malformed entry or a `run_end`
 */
export function prepareBatch(entries: readonly JournalEntryInput[], now: number): JournalEntry[] {
  if (!Array.isArray(entries)) {
    throw new ValidationError("entries: expected an array", {
      issues: [{ path: "entries", message: "expected an array", value: entries }],
    });
  }
  return entries.map((raw, i) => {
    const path = `entries[${i}]`;
    if (typeof raw === "object" && raw !== null && (raw as { type?: unknown }).type === "run_end") {
      throw new ValidationError(`${path}: a run ends through finishRun(), not append()`, {
        issues: [{ path: `${path}.type`, message: "run_end is written by finishRun()", value: "run_end" }],
      });
    }
    const stamped =
      typeof raw === "object" && raw !== null
        ? { v: JOURNAL_ENTRY_VERSION, ...raw, at: (raw as { at?: number }).at ?? now }
        : raw;
    return parseInput(JournalEntrySchema, stamped, path);
  });
}

/**
 * The `run_end` entry `finishRun` writes.
 *
 * @throws ValidationError (`validation`) for an unknown outcome or a bad `by` / `note`
 */
export function runEndEntry(
  runId: string,
  outcome: RunOutcome,
  options: FinishRunOptions,
  now: number,
): JournalEntry {
  if (!RUN_OUTCOMES.includes(outcome)) {
    throw new ValidationError(`outcome: expected one of ${RUN_OUTCOMES.join(", ")}`, {
      issues: [{ path: "outcome", message: `expected one of ${RUN_OUTCOMES.join(", ")}`, value: outcome }],
    });
  }
  const raw = {
    v: JOURNAL_ENTRY_VERSION,
    type: "run_end",
    runId,
    at: now,
    outcome,
    ...(options.by === undefined ? {} : { by: options.by }),
    ...(options.note === undefined ? {} : { note: options.note }),
  };
  return parseInput(JournalEntrySchema, raw, "finishRun");
}

/**
 * The error for a batch the run's state refuses.
 *
 * @param account - the account
 * @param v - the violation
 * @returns an `invalid_state` error naming the entry and the run
 */
export function sequenceError(account: string, v: SequenceViolation): OrdersafeError {
  return new OrdersafeError(
    "invalid_state",
    `journal ${account}: entries[${v.index}] (run ${v.runId}): ${v.reason}`,
    {
      details: { account, index: v.index, runId: v.runId, reason: v.reason },
    },
  );
}

/**
 * Runs tasks one after another (one queue per account), whatever each one's outcome.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * @param task - the work
   * @returns the task's result, once every task queued before it has settled
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Resolves once everything queued so far has settled. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
