import type { JournalEntry, RunStartEntry } from "./journal-entry.js";

/** One run the index knows. */
interface IndexedRun {
  readonly start: RunStartEntry;
  /** The run's entries in order (kept only when the index keeps entries). */
  readonly entries: JournalEntry[];
  /** sendId → whether it has been answered. */
  readonly sends: Map<string, boolean>;
  finished: boolean;
  /** How many entries the run has, kept or not. */
  count: number;
}

/** Why an entry cannot follow the ones before it. */
export interface SequenceViolation {
  /** Index of the offending entry in the batch. */
  readonly index: number;
  /** The run it names. */
  readonly runId: string;
  /** What is wrong. */
  readonly reason: string;
}

/** An open run as the index holds it. */
export interface IndexedOpenRun {
  readonly runId: string;
  readonly start: RunStartEntry;
  readonly entries: readonly JournalEntry[];
}

/**
 * The runs of one account and the rules an entry must follow: a run starts once; every other
 * entry names a run that is open; a `sendId` is used once in its run; an answer names an
 * earlier send of its run and is its only answer (a `not_placed` names an earlier send too);
 * nothing follows a run's `run_end`.
 *
 * @remarks
 * Both stores keep one per account and check each batch against it before anything is
 * written; a file store replays its file through it on open, so a file that breaks the rules
 * is refused. Pure: no I/O.
 */
export class RunIndex {
  private readonly runs = new Map<string, IndexedRun>();

  /** @param keepEntries - whether to keep every entry (the memory store) or only the rules' state (the file store) */
  constructor(private readonly keepEntries: boolean) {}

  /**
   * Checks a batch against the runs and the batch's own earlier entries, changing nothing.
   *
   * @param entries - the batch, in order
   * @returns the first violation, or undefined when the batch may be applied
   */
  check(entries: readonly JournalEntry[]): SequenceViolation | undefined {
    // The batch's own effects, kept apart so a refused batch leaves no trace.
    const started = new Set<string>();
    const ended = new Set<string>();
    const sent = new Set<string>();
    const answered = new Set<string>();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const run = this.runs.get(e.runId);
      const violation = (reason: string): SequenceViolation => ({ index: i, runId: e.runId, reason });
      if (e.type === "run_start") {
        if (run !== undefined || started.has(e.runId)) return violation("the run was started before");
        started.add(e.runId);
        continue;
      }
      const open = (run !== undefined && !run.finished) || started.has(e.runId);
      if (!open || ended.has(e.runId)) {
        return violation(
          run?.finished || ended.has(e.runId) ? "the run is finished" : "the run was never started",
        );
      }
      const key = `${e.runId}\u0000${"sendId" in e ? e.sendId : ""}`;
      if (e.type === "send") {
        if (run?.sends.has(e.sendId) || sent.has(key)) return violation(`sendId ${e.sendId} is used twice`);
        sent.add(key);
      } else if (e.type === "answer") {
        if (run?.sends.has(e.sendId) !== true && !sent.has(key))
          return violation(`answer to an unknown send ${e.sendId}`);
        if (run?.sends.get(e.sendId) === true || answered.has(key))
          return violation(`send ${e.sendId} was answered before`);
        answered.add(key);
      } else if (e.type === "not_placed") {
        if (run?.sends.has(e.sendId) !== true && !sent.has(key))
          return violation(`not_placed names an unknown send ${e.sendId}`);
      } else if (e.type === "run_end") {
        ended.add(e.runId);
      }
    }
    return undefined;
  }

  /**
   * Applies a batch that {@link RunIndex.check} accepted.
   *
   * @param entries - the batch, in order
   */
  apply(entries: readonly JournalEntry[]): void {
    for (const e of entries) {
      if (e.type === "run_start") {
        this.runs.set(e.runId, {
          start: e,
          entries: this.keepEntries ? [e] : [],
          sends: new Map(),
          finished: false,
          count: 1,
        });
        continue;
      }
      const run = this.runs.get(e.runId)!;
      if (this.keepEntries) run.entries.push(e);
      run.count++;
      if (e.type === "send") run.sends.set(e.sendId, false);
      else if (e.type === "answer") run.sends.set(e.sendId, true);
      else if (e.type === "run_end") run.finished = true;
    }
  }

  /** Whether a run is started and not finished. */
  isOpen(runId: string): boolean {
    const run = this.runs.get(runId);
    return run !== undefined && !run.finished;
  }

  /** Whether a run is finished (and not yet compacted away). */
  isFinished(runId: string): boolean {
    return this.runs.get(runId)?.finished === true;
  }

  /** Whether any run is finished and not yet compacted away. */
  hasFinished(): boolean {
    for (const run of this.runs.values()) if (run.finished) return true;
    return false;
  }

  /** How many runs are finished, and how many entries the finished and the open runs have. */
  counts(): { finishedRuns: number; finishedEntries: number; openEntries: number } {
    let finishedRuns = 0;
    let finishedEntries = 0;
    let openEntries = 0;
    for (const run of this.runs.values()) {
      if (run.finished) {
        finishedRuns++;
        finishedEntries += run.count;
      } else openEntries += run.count;
    }
    return { finishedRuns, finishedEntries, openEntries };
  }

  /** The open runs, in the order they started, with their entries when kept. */
  openRuns(): IndexedOpenRun[] {
    const out: IndexedOpenRun[] = [];
    for (const [runId, run] of this.runs) {
      if (!run.finished) out.push({ runId, start: run.start, entries: run.entries });
    }
    return out;
  }

  /**
   * Forgets the finished runs.
   *
   * @returns how many runs and entries were dropped, and how many entries remain
   */
  dropFinished(): { removedRuns: number; removedEntries: number; keptEntries: number } {
    let removedRuns = 0;
    let removedEntries = 0;
    let keptEntries = 0;
    for (const [runId, run] of this.runs) {
      if (run.finished) {
        this.runs.delete(runId);
        removedRuns++;
        removedEntries += run.count;
      } else keptEntries += run.count;
    }
    return { removedRuns, removedEntries, keptEntries };
  }
}
