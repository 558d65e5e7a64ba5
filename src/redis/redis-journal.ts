import type { Clock } from "../core/clock.js";
import { OrdersafeError } from "../core/errors.js";
import {
  checkCall,
  prepareBatch,
  runEndEntry,
  SerialQueue,
  sequenceError,
} from "../journal/journal-batch.js";
import {
  type JournalEntry,
  type JournalEntryInput,
  parseJournalEntry,
  type RunOutcome,
  type RunStartEntry,
} from "../journal/journal-entry.js";
import type {
  CompactResult,
  FinishRunOptions,
  JournalAppendOptions,
  JournalCallOptions,
  JournalStore,
  OpenRuns,
} from "../journal/journal-store.js";
import { RunIndex } from "../journal/run-index.js";
import type { ScriptRunner } from "./redis-client.js";
import { JOURNAL_APPEND, JOURNAL_READ, JOURNAL_REWRITE } from "./scripts.js";

/** Where an account's journal lives, and the fence its writes check. */
export interface RedisJournalKeys {
  /** The list of entries (JSON). */
  list(account: string): string;
  /** The generation, bumped by each compaction. */
  generation(account: string): string;
  /** The lease key whose holder the fence token must be (for the coordinated account). */
  lease(account: string): string;
}

/** What this process has read of one account's list. */
interface Cached {
  generation: string;
  entries: JournalEntry[];
  index: RunIndex;
}

const MAX_RACES = 50;

/**
 * The journal on Redis: one list per account, appended by a Lua script that checks the list
 * did not move since this process read it (else it reads the new entries and checks the run
 * rules again) and that the writer still holds the account's lease (the fence).
 *
 * @remarks
 * Every process reads the same entries in the same order, so a run a crashed process left
 * open is found by a process on another machine. "Durable" means the Redis server answered:
 * what survives a crash of Redis itself is its persistence settings' (AOF `appendfsync
 * always` for the strictest); see `docs/multi-process.md`.
 */
export class RedisJournal implements JournalStore {
  readonly id: string;
  private readonly cache = new Map<string, Cached>();
  private readonly queues = new Map<string, SerialQueue>();
  private closed = false;

  /**
   * @param runner - runs the scripts
   * @param keys - the key names
   * @param clock - stamps entries without `at`
   * @param fence - the lease token appends must hold (undefined: no check), per account
   * @param id - the store's name
   */
  constructor(
    private readonly runner: ScriptRunner,
    private readonly keys: RedisJournalKeys,
    private readonly clock: Clock,
    private readonly fence: (account: string) => string | undefined,
    id: string,
  ) {
    this.id = id;
  }

  private queue(account: string): SerialQueue {
    let q = this.queues.get(account);
    if (q === undefined) {
      q = new SerialQueue();
      this.queues.set(account, q);
    }
    return q;
  }

  /** Reads what was appended since the last read (everything after a compaction). */
  private async sync(account: string): Promise<Cached> {
    let cached = this.cache.get(account);
    const from = cached?.entries.length ?? 0;
    const reply = await this.runner.run(
      JOURNAL_READ,
      [this.keys.list(account), this.keys.generation(account)],
      [String(from)],
    );
    const [generation, length, ...raw] = asList(reply);
    if (cached === undefined || cached.generation !== String(generation) || Number(length) < from) {
      if (from !== 0) {
        this.cache.delete(account);
        return this.sync(account);
      }
      cached = { generation: String(generation), entries: [], index: new RunIndex(true) };
      this.cache.set(account, cached);
    }
    const fresh = raw.map((r, i) => parseStored(account, from + i, r));
    const violation = cached.index.check(fresh);
    if (violation !== undefined) {
      throw new OrdersafeError(
        "journal_corrupt",
        `journal ${account} on Redis breaks the run rules: ${violation.reason}`,
        {
          details: { account, index: from + violation.index, runId: violation.runId },
        },
      );
    }
    cached.index.apply(fresh);
    cached.entries.push(...fresh);
    return cached;
  }

  /** Appends a checked batch, reading again and re-checking when another process wrote first. */
  private async write(account: string, batch: JournalEntry[]): Promise<void> {
    for (let race = 0; race < MAX_RACES; race++) {
      const cached = await this.sync(account);
      const violation = cached.index.check(batch);
      if (violation !== undefined) throw sequenceError(account, violation);
      const r = Number(
        await this.runner.run(
          JOURNAL_APPEND,
          [this.keys.list(account), this.keys.generation(account), this.keys.lease(account)],
          [
            cached.generation,
            String(cached.entries.length),
            this.fence(account) ?? "",
            ...batch.map((e) => JSON.stringify(e)),
          ],
        ),
      );
      if (r === -2) throw fenceError(account);
      if (r >= 0) {
        cached.index.apply(batch);
        cached.entries.push(...batch);
        return;
      }
    }
    throw new OrdersafeError("coordination_unavailable", `journal ${account}: too many concurrent writers`, {
      details: { account },
    });
  }

  async append(account: string, entries: readonly JournalEntryInput[], options: JournalAppendOptions = {}) {
    checkCall(account, this.closed, options.signal);
    const batch = prepareBatch(entries, this.clock.now());
    await this.queue(account).run(() => this.write(account, batch));
  }

  async openRuns(account: string, options: JournalCallOptions = {}): Promise<OpenRuns> {
    checkCall(account, this.closed, options.signal);
    const cached = await this.queue(account).run(() => this.sync(account));
    const runs = cached.index.openRuns().map((r) => {
      const entries = structuredClone(r.entries) as JournalEntry[];
      return { runId: r.runId, start: entries[0] as RunStartEntry, entries };
    });
    return { runs, warnings: [] };
  }

  async finishRun(account: string, runId: string, outcome: RunOutcome, options: FinishRunOptions = {}) {
    checkCall(account, this.closed, options.signal);
    const end = runEndEntry(runId, outcome, options, this.clock.now());
    return this.queue(account).run(async () => {
      for (let race = 0; race < MAX_RACES; race++) {
        const cached = await this.sync(account);
        if (!cached.index.isOpen(runId)) return false;
        try {
          await this.write(account, [end]);
          return true;
        } catch (e) {
          // Another process finished it between our read and our write: not ours to finish.
          if (!(e instanceof OrdersafeError && e.code === "invalid_state")) throw e;
        }
      }
      return false;
    });
  }

  async compact(account: string, options: JournalCallOptions = {}): Promise<CompactResult> {
    checkCall(account, this.closed, options.signal);
    return this.queue(account).run(async () => {
      for (let race = 0; race < MAX_RACES; race++) {
        const cached = await this.sync(account);
        const counts = cached.index.counts();
        if (counts.finishedRuns === 0)
          return { removedRuns: 0, removedEntries: 0, keptEntries: counts.openEntries };
        const open = new Set(cached.index.openRuns().map((r) => r.runId));
        const kept = cached.entries.filter((e) => open.has(e.runId));
        const r = Number(
          await this.runner.run(
            JOURNAL_REWRITE,
            [this.keys.list(account), this.keys.generation(account), this.keys.lease(account)],
            [
              cached.generation,
              String(cached.entries.length),
              this.fence(account) ?? "",
              ...kept.map((e) => JSON.stringify(e)),
            ],
          ),
        );
        if (r === -2) throw fenceError(account);
        if (r >= 0) {
          this.cache.delete(account);
          return {
            removedRuns: counts.finishedRuns,
            removedEntries: counts.finishedEntries,
            keptEntries: kept.length,
          };
        }
      }
      throw new OrdersafeError("coordination_unavailable", `journal ${account}: too many concurrent writers`);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.queues.values()].map((q) => q.idle()));
    this.closed = true;
  }
}

function asList(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) {
    throw new OrdersafeError(
      "coordination_unavailable",
      "[ordersafe/redis] unexpected reply to a journal read",
    );
  }
  return reply;
}

function parseStored(account: string, index: number, raw: unknown): JournalEntry {
  try {
    return parseJournalEntry(JSON.parse(String(raw)));
  } catch (e) {
    throw new OrdersafeError(
      "journal_corrupt",
      `journal ${account} on Redis: entry ${index} is not a journal entry`,
      {
        cause: e,
        details: { account, index },
      },
    );
  }
}

function fenceError(account: string): OrdersafeError {
  return new OrdersafeError(
    "lease_lost",
    `the lease on account ${account} passed to another process: the journal refuses its writes`,
    { details: { account }, retryable: false },
  );
}
