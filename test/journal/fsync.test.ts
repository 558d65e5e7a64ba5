import { open } from "node:fs/promises";
import { basename } from "node:path";
import { fileJournal, type JournalStore, type OpenJournalFile } from "ordersafe";
import { afterEach, describe, expect, it } from "vitest";
import { accepted, intent, runStart, submit, tempDir } from "./fixtures.js";

// The real file system, seen through the handle the journal writes with: every write and
// every datasync is logged in order with the moment an append resolves, and each datasync
// takes a while, so an append that resolved before its sync finished would show.

const A = "PA-0001";

interface Recorder {
  events: string[];
  openFile: OpenJournalFile;
}

function recorder(syncDelayMs = 15): Recorder {
  const events: string[] = [];
  const openFile: OpenJournalFile = async (path, flags, mode) => {
    const h = await open(path, flags, mode);
    const name = basename(path).endsWith(".torn.jsonl")
      ? "torn"
      : basename(path).endsWith(".tmp")
        ? "tmp"
        : "journal";
    return {
      read: (b, o, l, p) => h.read(b, o, l, p),
      write: async (b, o, l, p) => {
        events.push(`write ${name}`);
        return h.write(b, o, l, p);
      },
      datasync: async () => {
        events.push(`datasync ${name} start`);
        await new Promise((r) => setTimeout(r, syncDelayMs));
        await h.datasync();
        events.push(`datasync ${name} end`);
      },
      sync: async () => {
        await h.sync();
        events.push(`sync ${name}`);
      },
      truncate: (l) => h.truncate(l),
      stat: () => h.stat(),
      close: () => h.close(),
    };
  };
  return { events, openFile };
}

describe("fileJournal: one write per call, and a durable append resolves only after its datasync", () => {
  let store: JournalStore | undefined;
  let remove = () => {};
  afterEach(async () => {
    await store?.close();
    remove();
  });

  function make(r: Recorder, fsync = true) {
    const t = tempDir();
    remove = t.remove;
    store = fileJournal(t.dir, { openFile: r.openFile, fsync });
    return store;
  }

  async function step(r: Recorder, label: string, call: Promise<unknown>): Promise<string[]> {
    const from = r.events.length;
    await call;
    r.events.push(`${label} resolved`);
    return r.events.slice(from);
  }

  it("durable: write, datasync to its end, then resolve; one of each per call, however many entries", async () => {
    const r = recorder();
    const s = make(r);
    await s.openRuns(A); // creates the file: its header is written and synced once
    expect(r.events).toEqual(["write journal", "datasync journal start", "datasync journal end"]);
    expect(await step(r, "append", s.append(A, [runStart("r1"), intent("r1")], { durable: true }))).toEqual([
      "write journal",
      "datasync journal start",
      "datasync journal end",
      "append resolved",
    ]);
    for (let i = 0; i < 25; i++) {
      expect(await step(r, "send", s.append(A, [submit("r1", `c${i}`)], { durable: true }))).toEqual([
        "write journal",
        "datasync journal start",
        "datasync journal end",
        "send resolved",
      ]);
      expect(await step(r, "answer", s.append(A, [accepted("r1", `c${i}`)]))).toEqual([
        "write journal",
        "answer resolved",
      ]);
    }
    expect(await step(r, "finish", s.finishRun(A, "r1", "completed"))).toEqual([
      "write journal",
      "datasync journal start",
      "datasync journal end",
      "finish resolved",
    ]);
    // Reads neither write nor sync.
    expect(await step(r, "read", s.openRuns(A))).toEqual(["read resolved"]);
  });

  it("concurrent durable appends: each its own write and datasync, none resolved before its sync", async () => {
    const r = recorder(5);
    const s = make(r);
    await s.append(A, [runStart("r1")]);
    const from = r.events.length;
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        s.append(A, [submit("r1", `c${i}`)], { durable: true }).then(() => r.events.push(`c${i} resolved`)),
      ),
    );
    const events = r.events.slice(from);
    expect(events.filter((e) => e === "write journal")).toHaveLength(8);
    expect(events.filter((e) => e === "datasync journal end")).toHaveLength(8);
    // The i-th resolution comes after the i-th sync ended.
    const ends = events.flatMap((e, i) => (e === "datasync journal end" ? [i] : []));
    const resolved = events.flatMap((e, i) => (e.endsWith("resolved") ? [i] : []));
    for (const [i, at] of resolved.entries()) expect(at).toBeGreaterThan(ends[i]!);
  });

  it("a torn line is moved aside by synced writes before the append's own", async () => {
    const r = recorder(1);
    const t = tempDir();
    remove = t.remove;
    const first = fileJournal(t.dir, { fsync: false });
    await first.append(A, [runStart("r1")]);
    await first.close();
    const { appendFileSync, readdirSync } = await import("node:fs");
    const file = readdirSync(t.dir).find((n) => n.endsWith(".jsonl"))!;
    appendFileSync(`${t.dir}/${file}`, '{"entry":{"v":1,"type":"in');
    store = fileJournal(t.dir, { openFile: r.openFile });
    await store.openRuns(A);
    expect(await step(r, "append", store.append(A, [intent("r1")], { durable: true }))).toEqual([
      "write torn",
      "sync torn",
      "datasync journal start",
      "datasync journal end",
      "write journal",
      "datasync journal start",
      "datasync journal end",
      "append resolved",
    ]);
  });

  it("fsync: false never syncs", async () => {
    const r = recorder();
    const s = make(r, false);
    await s.append(A, [runStart("r1"), submit("r1", "c1")], { durable: true });
    await s.finishRun(A, "r1", "completed");
    await s.compact(A);
    expect(r.events.filter((e) => e.includes("sync"))).toEqual([]);
  });

  it("compaction writes its copy in one write and syncs it before it resolves", async () => {
    const r = recorder(1);
    const s = make(r);
    await s.append(A, [runStart("r1"), runStart("r2")]);
    await s.finishRun(A, "r1", "completed");
    expect(await step(r, "compact", s.compact(A))).toEqual(["write tmp", "sync tmp", "compact resolved"]);
  });
});
