import fc from "fast-check";
import {
  fileJournal,
  type JournalEntry,
  type JournalEntryInput,
  type JournalStore,
  memoryJournal,
  parseJournalEntry,
  type RunOutcome,
} from "ordersafe";
import { afterEach, describe, expect, it } from "vitest";
import { accepted, codeOf, final, intent, refused, runStart, submit, tempDir } from "./fixtures.js";

// One suite, every store: the JournalStore contract as the rebalancer (and a Redis
// implementation) relies on it.

interface Harness {
  /** A fresh, empty store. */
  make(): JournalStore;
  /** The same journal seen by a new store (the file store after close and reopen), or undefined. */
  reopen(store: JournalStore): Promise<JournalStore | undefined>;
  cleanup(): void;
}

const harnesses: Record<string, () => Harness> = {
  memoryJournal: () => ({
    make: () => memoryJournal({ clock: { now: () => 7_777, sleep: async () => {} } }),
    reopen: async () => undefined,
    cleanup: () => {},
  }),
  fileJournal: () => {
    const t = tempDir();
    const clock = { now: () => 7_777, sleep: async () => {} };
    return {
      make: () => fileJournal(t.dir, { clock }),
      reopen: async (store) => {
        await store.close();
        return fileJournal(t.dir, { clock });
      },
      cleanup: t.remove,
    };
  },
};

const A = "PA-0001";
const B = "PA-0002";

/** The entry as the store must return it: decimals as strings, dates as ISO strings, v and at set. */
function normal(e: JournalEntryInput, at = 7_777): JournalEntry {
  return parseJournalEntry({ v: 1, ...e, at: e.at ?? at });
}

describe.each(Object.keys(harnesses))("JournalStore contract: %s", (name) => {
  let h: Harness;
  let store: JournalStore;
  const setup = () => {
    h = harnesses[name]!();
    store = h.make();
  };
  afterEach(async () => {
    await store?.close();
    h?.cleanup();
  });

  it("an account never written has no runs and no warnings", async () => {
    setup();
    expect(await store.openRuns(A)).toEqual({ runs: [], warnings: [] });
  });

  it("returns an open run's entries in order, normalised to plain JSON", async () => {
    setup();
    const written = [
      runStart("r1"),
      intent("r1"),
      submit("r1", "c1"),
      accepted("r1", "c1"),
      final("r1", "c1"),
    ];
    await store.append(A, written.slice(0, 2));
    await store.append(A, [written[2]!], { durable: true });
    await store.append(A, written.slice(3));
    const { runs, warnings } = await store.openRuns(A);
    expect(warnings).toEqual([]);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.runId).toBe("r1");
    expect(runs[0]!.entries).toEqual(written.map((e) => normal(e)));
    expect(runs[0]!.start).toEqual(runs[0]!.entries[0]);
    const start = runs[0]!.start;
    expect(start.account.cash).toBe("10000.5");
    expect(start.account.asOf).toBe("2026-11-25T14:30:00.000Z");
    expect(start.targets).toEqual({ weights: { TECL: "0.5", BIL: "0.45" } });
    // A round trip through JSON changes nothing: the entries are plain JSON.
    expect(JSON.parse(JSON.stringify(runs[0]!.entries))).toEqual(runs[0]!.entries);
  });

  it("stamps v and at from the store's clock when the writer leaves them out", async () => {
    setup();
    const { at: _drop, ...noAt } = runStart("r1") as JournalEntryInput & { at?: number };
    await store.append(A, [noAt as JournalEntryInput]);
    const { runs } = await store.openRuns(A);
    expect(runs[0]!.start.at).toBe(7_777);
    expect(runs[0]!.start.v).toBe(1);
  });

  it("finishRun ends a run once; unknown and finished runs answer false", async () => {
    setup();
    await store.append(A, [runStart("r1"), runStart("r2")]);
    expect(await store.finishRun(A, "r1", "completed")).toBe(true);
    expect(await store.finishRun(A, "r1", "completed")).toBe(false);
    expect(await store.finishRun(A, "nope", "abandoned")).toBe(false);
    expect((await store.openRuns(A)).runs.map((r) => r.runId)).toEqual(["r2"]);
    expect(await store.finishRun(A, "r2", "superseded", { by: "r3", note: "taken over" })).toBe(true);
    expect((await store.openRuns(A)).runs).toEqual([]);
  });

  it("refuses what the run's state forbids, and writes nothing of a refused batch", async () => {
    setup();
    await store.append(A, [runStart("r1"), submit("r1", "c1")]);
    await store.append(A, [runStart("done")]);
    await store.finishRun(A, "done", "completed");
    const before = await store.openRuns(A);
    const refusedBatches: JournalEntryInput[][] = [
      [intent("ghost")], // never started
      [intent("done")], // finished
      [runStart("r1")], // started twice
      [runStart("done")], // finished, not yet compacted
      [submit("r1", "c1")], // sendId twice
      [accepted("r1", "nope")], // answer to no send
      [{ type: "not_placed", runId: "r1", sendId: "nope", clientOrderId: "nope", by: "r2", afterMs: 1 }], // no send
      [intent("r1"), accepted("r1", "c1"), accepted("r1", "c1")], // answered twice, in one batch
      [runStart("r9"), runStart("r9")],
      [submit("r1", "c2"), submit("r1", "c2")],
    ];
    for (const batch of refusedBatches) expect(await codeOf(store.append(A, batch))).toBe("invalid_state");
    expect(await store.openRuns(A)).toEqual(before);
    // An answered send cannot be answered again in a later call either.
    await store.append(A, [accepted("r1", "c1")]);
    expect(await codeOf(store.append(A, [refused("r1", "c1")]))).toBe("invalid_state");
  });

  it("refuses malformed entries and run_end with a validation error, writing nothing", async () => {
    setup();
    await store.append(A, [runStart("r1")]);
    const bad: unknown[] = [
      { type: "run_end", runId: "r1", outcome: "completed" },
      { ...intent("r1"), qty: "5" }, // both qty and notional
      { ...intent("r1"), notional: "NaN" },
      { ...intent("r1"), notional: -3 },
      { ...submit("r1", "c9"), op: "explode" },
      { ...intent("r1"), extra: true },
      { ...intent("r1"), runId: "" },
      { ...final("r1", "c1"), order: { ...(final("r1", "c1") as { order: object }).order, status: "new" } },
      "not an entry",
    ];
    for (const e of bad) {
      expect(await codeOf(store.append(A, [intent("r1", "BIL"), e as JournalEntryInput]))).toBe("validation");
    }
    expect(await codeOf(store.append(A, "nope" as unknown as JournalEntryInput[]))).toBe("validation");
    expect(await codeOf(store.append("", [intent("r1")]))).toBe("validation");
    expect(await codeOf(store.finishRun(A, "r1", "exploded" as RunOutcome))).toBe("validation");
    expect((await store.openRuns(A)).runs[0]!.entries).toHaveLength(1);
  });

  it("keeps accounts apart", async () => {
    setup();
    await store.append(A, [runStart("r1"), intent("r1")]);
    await store.append(B, [runStart("r1")]);
    await store.finishRun(B, "r1", "completed");
    expect((await store.openRuns(A)).runs.map((r) => r.entries.length)).toEqual([2]);
    expect((await store.openRuns(B)).runs).toEqual([]);
  });

  it("compact removes the finished runs, keeps the open ones, and forgets compacted runIds", async () => {
    setup();
    await store.append(A, [runStart("r1"), intent("r1"), runStart("r2"), submit("r2", "c1")]);
    await store.append(A, [accepted("r2", "c1"), runStart("r3")]);
    await store.finishRun(A, "r1", "completed");
    await store.finishRun(A, "r3", "abandoned");
    const before = await store.openRuns(A);
    expect(await store.compact(A)).toEqual({ removedRuns: 2, removedEntries: 5, keptEntries: 3 });
    expect(await store.openRuns(A)).toEqual(before);
    expect(await store.compact(A)).toEqual({ removedRuns: 0, removedEntries: 0, keptEntries: 3 });
    // The journal goes on after a compaction, and a compacted runId may start again.
    await store.append(A, [final("r2", "c1"), runStart("r1")]);
    const after = await store.openRuns(A);
    expect(after.runs.map((r) => [r.runId, r.entries.length])).toEqual([
      ["r2", 4],
      ["r1", 1],
    ]);
    const again = await h.reopen(store);
    if (again !== undefined) {
      store = again;
      expect(await store.openRuns(A)).toEqual(after);
    }
  });

  it("hands out copies: changing a returned entry changes nothing stored", async () => {
    setup();
    await store.append(A, [runStart("r1")]);
    const first = await store.openRuns(A);
    (first.runs[0]!.start.account as { cash: string }).cash = "0";
    (first.runs[0]!.entries as JournalEntry[]).push(normal(intent("r1")));
    const second = await store.openRuns(A);
    expect(second.runs[0]!.start.account.cash).toBe("10000.5");
    expect(second.runs[0]!.entries).toHaveLength(1);
  });

  it("an aborted signal throws its reason and writes nothing", async () => {
    setup();
    await store.append(A, [runStart("r1")]);
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    await expect(store.append(A, [intent("r1")], { signal: ac.signal })).rejects.toThrow("stop");
    await expect(store.finishRun(A, "r1", "completed", { signal: ac.signal })).rejects.toThrow("stop");
    await expect(store.openRuns(A, { signal: ac.signal })).rejects.toThrow("stop");
    expect((await store.openRuns(A)).runs[0]!.entries).toHaveLength(1);
  });

  it("a closed store refuses every call with invalid_state; close is idempotent", async () => {
    setup();
    await store.append(A, [runStart("r1")]);
    await store.close();
    await store.close();
    expect(await codeOf(store.append(A, [intent("r1")]))).toBe("invalid_state");
    expect(await codeOf(store.openRuns(A))).toBe("invalid_state");
    expect(await codeOf(store.finishRun(A, "r1", "completed"))).toBe("invalid_state");
    expect(await codeOf(store.compact(A))).toBe("invalid_state");
  });

  it("concurrent appends on one account all land, each batch whole and in call order", async () => {
    setup();
    await store.append(A, [runStart("r1")]);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.append(A, [submit("r1", `c${i}`), accepted("r1", `c${i}`)], { durable: i % 2 === 0 }),
      ),
    );
    const entries = (await store.openRuns(A)).runs[0]!.entries;
    expect(entries).toHaveLength(41);
    for (let i = 0; i < 20; i++) {
      expect(entries[1 + 2 * i]).toMatchObject({ type: "send", sendId: `c${i}` });
      expect(entries[2 + 2 * i]).toMatchObject({ type: "answer", sendId: `c${i}` });
    }
  });

  it("property: openRuns is exactly the unfinished runs with their entries in order", async () => {
    // Commands are drawn blind; the model says which ones the store must refuse.
    const command = fc.oneof(
      fc.record({ kind: fc.constant("start" as const), account: fc.nat(2), run: fc.nat(3) }),
      fc.record({
        kind: fc.constant("write" as const),
        account: fc.nat(2),
        run: fc.nat(3),
        what: fc.array(fc.constantFrom("intent", "send", "answer", "final"), { minLength: 1, maxLength: 3 }),
        durable: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant("finish" as const),
        account: fc.nat(2),
        run: fc.nat(3),
        outcome: fc.constantFrom<RunOutcome>("completed", "abandoned", "superseded"),
      }),
      fc.record({ kind: fc.constant("compact" as const), account: fc.nat(2) }),
      fc.record({ kind: fc.constant("reopen" as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
        setup();
        try {
          await runModel(commands);
        } finally {
          await store.close();
          h.cleanup();
        }
      }),
      { numRuns: name === "fileJournal" ? 40 : 150 },
    );

    type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;
    async function runModel(commands: Command[]) {
      interface ModelRun {
        entries: JournalEntry[];
        unanswered: string[];
        sends: number;
        finished: boolean;
      }
      const model = new Map<string, Map<string, ModelRun>>();
      const accountName = (i: number) => `acct/${i} ü`;
      let clock = 0;
      const runsOf = (a: string) => {
        const m = model.get(a) ?? new Map<string, ModelRun>();
        model.set(a, m);
        return m;
      };
      for (const c of commands) {
        if (c.kind === "reopen") {
          const again = await h.reopen(store);
          if (again !== undefined) store = again;
        } else if (c.kind === "compact") {
          const runs = runsOf(accountName(c.account));
          await store.compact(accountName(c.account));
          for (const [id, r] of runs) if (r.finished) runs.delete(id);
        } else {
          const account = accountName(c.account);
          const runId = `run-${c.run}`;
          const runs = runsOf(account);
          const run = runs.get(runId);
          if (c.kind === "start") {
            const e = runStart(runId, ++clock);
            const got = await codeOf(store.append(account, [e]));
            if (run !== undefined) expect(got).toBe("invalid_state");
            else {
              expect(got).toBe("resolved");
              runs.set(runId, { entries: [normal(e)], unanswered: [], sends: 0, finished: false });
            }
          } else if (c.kind === "finish") {
            const ok = await store.finishRun(account, runId, c.outcome);
            expect(ok).toBe(run !== undefined && !run.finished);
            if (run !== undefined) run.finished = true;
          } else {
            const batch: JournalEntryInput[] = [];
            const unanswered = [...(run?.unanswered ?? [])];
            let sends = run?.sends ?? 0;
            let answerable = true;
            for (const w of c.what) {
              const at = ++clock;
              if (w === "intent") batch.push(intent(runId, "BIL", at));
              else if (w === "final") batch.push(final(runId, `x${at}`, at));
              else if (w === "send") {
                const id = `${runId}-s${sends++}`;
                batch.push(submit(runId, id, at));
                unanswered.push(id);
              } else {
                const id = unanswered.shift();
                if (id === undefined) answerable = false;
                batch.push(id === undefined ? accepted(runId, "never-sent", at) : accepted(runId, id, at));
              }
            }
            const got = await codeOf(store.append(account, batch, { durable: c.durable }));
            if (run === undefined || run.finished || !answerable) expect(got).toBe("invalid_state");
            else {
              expect(got).toBe("resolved");
              run.entries.push(...batch.map((e) => normal(e)));
              run.unanswered = unanswered;
              run.sends = sends;
            }
          }
        }
      }
      for (let i = 0; i <= 2; i++) {
        const expected = [...runsOf(accountName(i))]
          .filter(([, r]) => !r.finished)
          .map(([runId, r]) => ({ runId, start: r.entries[0], entries: r.entries }));
        const got = await store.openRuns(accountName(i));
        expect(got.runs).toEqual(expected);
        expect(got.warnings).toEqual([]);
      }
    }
  });
});
