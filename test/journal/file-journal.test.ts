import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, join } from "node:path";
import { fileJournal, type JournalStore, type OpenJournalFile } from "ordersafe";
import { afterEach, describe, expect, it } from "vitest";
import {
  accepted,
  captureLogger,
  codeOf,
  final,
  intent,
  refused,
  runStart,
  submit,
  tempDir,
} from "./fixtures.js";

const A = "PA-0001";
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(): string {
  const t = tempDir();
  cleanups.push(t.remove);
  return t.dir;
}

function store(d: string, options: Parameters<typeof fileJournal>[1] = {}): JournalStore {
  const s = fileJournal(d, { fsync: false, ...options });
  cleanups.push(() => s.close());
  return s;
}

/** The account's journal file in a directory (the one `.jsonl` that is not a torn-line file). */
function journalFile(d: string): string {
  const names = readdirSync(d).filter((n) => n.endsWith(".jsonl") && !n.endsWith(".torn.jsonl"));
  expect(names).toHaveLength(1);
  return join(d, names[0]!);
}

/** Byte ranges of a file's lines, newline included. */
function lines(bytes: Buffer): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let start = 0;
  while (start < bytes.length) {
    const nl = bytes.indexOf(10, start);
    const end = nl === -1 ? bytes.length : nl + 1;
    out.push({ start, end });
    start = end;
  }
  return out;
}

/** Flips one bit of a byte. */
function flip(bytes: Buffer, at: number): void {
  bytes[at] = bytes[at]! ^ 0x01;
}

/** A journal line as docs/journal.md describes it, built independently of the library. */
function lineOf(key: "entry" | "header", value: unknown): string {
  const json = JSON.stringify(value);
  const check = createHash("sha256").update(json, "utf8").digest("hex").slice(0, 16);
  return `{"${key}":${json},"check":"${check}"}\n`;
}

/** A process id that certainly belongs to no process: one that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  const pid = r.pid as number;
  expect(() => process.kill(pid, 0)).toThrow();
  return pid;
}

/** Writes a journal with one open run: 5 entries, the last one non-ASCII. */
async function sampleJournal(d: string) {
  const s = fileJournal(d, { fsync: false });
  await s.append(A, [runStart("r1"), intent("r1")]);
  await s.append(A, [submit("r1", "c1")], { durable: true });
  await s.append(A, [accepted("r1", "c1")]);
  await s.append(A, [submit("r1", "c2")], { durable: true });
  await s.append(A, [refused("r1", "c2")]);
  const entries = (await s.openRuns(A)).runs[0]!.entries;
  await s.close();
  const file = journalFile(d);
  return { file, bytes: readFileSync(file), entries };
}

describe("fileJournal: the file", () => {
  it("is one header line and one checksummed JSON line per entry, as the doc describes", async () => {
    const d = dir();
    const { bytes, entries } = await sampleJournal(d);
    const text = bytes.toString("utf8").split("\n");
    expect(text.pop()).toBe("");
    expect(`${text[0]}\n`).toBe(lineOf("header", { format: "ordersafe-journal", version: 1, account: A }));
    expect(text.slice(1).map((l) => `${l}\n`)).toEqual(entries.map((e) => lineOf("entry", e)));
    for (const l of text) expect(JSON.parse(l)).toBeTypeOf("object");
  });

  it("names files by a readable slug and a hash: any account stays inside the directory, distinct", async () => {
    const d = dir();
    const accounts = ["../../etc/passwd", "a/b", "a_b", ".hidden", "ü€ 𝄞", "x".repeat(256)];
    const s = store(d);
    for (const a of accounts) await s.append(a, [runStart("r1")]);
    const names = readdirSync(d).filter((n) => n.endsWith(".jsonl"));
    expect(names).toHaveLength(accounts.length);
    for (const n of names) {
      expect(n).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]*-[0-9a-f]{12}\.jsonl$/);
      expect(n.length).toBeLessThan(80);
    }
    for (const a of accounts) expect((await s.openRuns(a)).runs).toHaveLength(1);
  });

  it("a torn last line, cut at every byte: earlier entries intact, the tear reported, the next append on a fresh line", async () => {
    const d = dir();
    const { file, bytes, entries } = await sampleJournal(d);
    const all = lines(bytes);
    const last = all[all.length - 1]!;
    const lastLength = last.end - last.start;
    expect(lastLength).toBeGreaterThan(200);
    // The last line holds multi-byte characters: some cuts fall inside one.
    expect(bytes.subarray(last.start).toString("utf8")).toMatch(/Überzug/);
    for (let cut = 0; cut <= lastLength; cut++) {
      const t = tempDir();
      try {
        const copy = join(t.dir, basename(file));
        writeFileSync(copy, bytes.subarray(0, last.start + cut));
        const torn = cut > 0 && cut < lastLength;
        const kept = cut === lastLength ? entries : entries.slice(0, -1);
        const logger = captureLogger();
        const s = fileJournal(t.dir, { fsync: false, logger });
        const first = await s.openRuns(A);
        expect(first.runs[0]!.entries).toEqual(kept);
        if (torn) {
          expect(first.warnings).toEqual([
            expect.objectContaining({ kind: "torn_tail", offset: last.start, length: cut, repaired: false }),
          ]);
          expect(logger.lines.filter((l) => l.level === "warn")).toHaveLength(1);
        } else {
          expect(first.warnings).toEqual([]);
          expect(logger.lines).toEqual([]);
        }
        await s.append(A, [intent("r1", "BIL", 9_000)]);
        const second = await s.openRuns(A);
        expect(second.runs[0]!.entries.slice(0, -1)).toEqual(kept);
        expect(second.runs[0]!.entries.at(-1)).toMatchObject({ type: "intent", symbol: "BIL", at: 9_000 });
        if (torn) {
          expect(second.warnings).toEqual([
            expect.objectContaining({ kind: "torn_tail", offset: last.start, length: cut, repaired: true }),
          ]);
          const saved = readFileSync(copy.replace(/\.jsonl$/, ".torn.jsonl"), "utf8")
            .trim()
            .split("\n");
          expect(saved).toHaveLength(1);
          const record = JSON.parse(saved[0]!);
          expect(Buffer.from(record.base64, "base64")).toEqual(bytes.subarray(last.start, last.start + cut));
        }
        await s.close();
        // The bytes before the tear are untouched, and a new reader sees a clean journal.
        const after = readFileSync(copy);
        expect(after.subarray(0, last.start)).toEqual(bytes.subarray(0, last.start));
        const s2 = fileJournal(t.dir, { fsync: false });
        const third = await s2.openRuns(A);
        expect(third.runs).toEqual(second.runs);
        expect(third.warnings).toEqual([]);
        await s2.close();
      } finally {
        t.remove();
      }
    }
  });

  it("a torn header (a crash while the file was created) is a torn line too", async () => {
    const d = dir();
    const { file, bytes } = await sampleJournal(d);
    const header = lines(bytes)[0]!;
    writeFileSync(file, bytes.subarray(0, header.end - 5));
    const s = store(d);
    const got = await s.openRuns(A);
    expect(got.runs).toEqual([]);
    expect(got.warnings).toEqual([
      expect.objectContaining({ kind: "torn_tail", offset: 0, repaired: false }),
    ]);
    await s.append(A, [runStart("r2")]);
    await s.close();
    const s2 = store(d);
    expect((await s2.openRuns(A)).runs.map((r) => r.runId)).toEqual(["r2"]);
  });

  describe("a damaged line that is not the last is journal_corrupt, never skipped", () => {
    const cases: [string, (bytes: Buffer, l: { start: number; end: number }[]) => Buffer, number][] = [
      [
        "a flipped byte in an entry",
        (b, l) => {
          const c = Buffer.from(b);
          flip(c, l[2]!.start + 30);
          return c;
        },
        3,
      ],
      [
        "a wrong checksum",
        (b, l) => {
          const c = Buffer.from(b);
          const at = l[3]!.end - 4;
          c[at] = c[at] === 0x30 ? 0x31 : 0x30;
          return c;
        },
        4,
      ],
      [
        "two lines run together",
        (b, l) => Buffer.concat([b.subarray(0, l[2]!.end - 1), b.subarray(l[2]!.end)]),
        3,
      ],
      [
        "an empty line",
        (b, l) => Buffer.concat([b.subarray(0, l[2]!.end), Buffer.from("\n"), b.subarray(l[2]!.end)]),
        4,
      ],
      [
        "a valid checksum over an entry that breaks the schema",
        (b, l) =>
          Buffer.concat([
            b.subarray(0, l[2]!.end),
            Buffer.from(lineOf("entry", { v: 1, type: "intent", runId: "r1", at: 5, symbol: "X" })),
            b.subarray(l[2]!.end),
          ]),
        4,
      ],
      [
        "a valid checksum over an entry of a run never started",
        (b, l) =>
          Buffer.concat([
            b.subarray(0, l[2]!.end),
            Buffer.from(
              lineOf("entry", { v: 1, type: "run_end", runId: "ghost", at: 5, outcome: "completed" }),
            ),
            b.subarray(l[2]!.end),
          ]),
        4,
      ],
      [
        "an entry written by a newer version",
        (b, l) =>
          Buffer.concat([
            b.subarray(0, l[2]!.end),
            Buffer.from(lineOf("entry", { v: 2, type: "intent", runId: "r1", at: 5 })),
            b.subarray(l[2]!.end),
          ]),
        4,
      ],
      [
        "a damaged header",
        (b) => {
          const c = Buffer.from(b);
          flip(c, 12);
          return c;
        },
        1,
      ],
      [
        "a damaged middle line and a torn last one",
        (b, l) => {
          const c = Buffer.from(b.subarray(0, b.length - 10));
          flip(c, l[2]!.start + 30);
          return c;
        },
        3,
      ],
    ];
    for (const [name, damage, line] of cases) {
      it(name, async () => {
        const d = dir();
        const { file, bytes } = await sampleJournal(d);
        writeFileSync(file, damage(bytes, lines(bytes)));
        const s = store(d);
        const e = await s.openRuns(A).catch((x: unknown) => x);
        expect(e).toMatchObject({ code: "journal_corrupt", details: { line } });
        if (name.includes("newer")) expect(String((e as Error).message)).toMatch(/newer/);
        // The file is left as it was, the lock released, and the same store reads it once repaired.
        expect(readFileSync(file)).toEqual(damage(bytes, lines(bytes)));
        expect(await codeOf(store(d).openRuns(A))).toBe("journal_corrupt");
        writeFileSync(file, bytes);
        expect((await s.openRuns(A)).runs[0]!.entries).toHaveLength(6);
      });
    }

    it("a last line with a valid checksum that breaks the schema is corruption, not a tear", async () => {
      const d = dir();
      const { file } = await sampleJournal(d);
      appendFileSync(file, lineOf("entry", { v: 1, type: "intent", runId: "r1", at: 5 }));
      expect(await codeOf(store(d).openRuns(A))).toBe("journal_corrupt");
    });

    it("a file of another account", async () => {
      const d = dir();
      const { file } = await sampleJournal(d);
      const other = store(d);
      await other.append("PA-0002", [runStart("r1")]);
      await other.close();
      const otherFile = readdirSync(d).find((n) => n.endsWith(".jsonl") && join(d, n) !== file)!;
      renameSync(file, join(d, "keep"));
      renameSync(join(d, otherFile), file);
      expect(
        await store(d)
          .openRuns(A)
          .catch((x: unknown) => x),
      ).toMatchObject({
        code: "journal_corrupt",
        details: { line: 1 },
      });
    });
  });

  it("a file changed under a running store (a second writer) is refused", async () => {
    const d = dir();
    const s = store(d);
    await s.append(A, [runStart("r1")]);
    appendFileSync(journalFile(d), lineOf("entry", { v: 1, type: "run_start" }));
    expect(await codeOf(s.openRuns(A))).toBe("journal_corrupt");
  });

  it("compaction keeps the open runs' lines byte for byte, leaves no temporary file, and refuses a corrupt file", async () => {
    const d = dir();
    const s = store(d, { fsync: true });
    await s.append(A, [runStart("old"), runStart("r1"), intent("old"), submit("r1", "c1")]);
    await s.append(A, [final("old", "x"), accepted("r1", "c1")]);
    await s.finishRun(A, "old", "completed");
    const before = readFileSync(journalFile(d));
    const keptLines = lines(before)
      .map((l) => before.subarray(l.start, l.end).toString("utf8"))
      .filter((l) => l.startsWith('{"header"') || l.includes('"runId":"r1"'));
    expect(await s.compact(A)).toEqual({ removedRuns: 1, removedEntries: 4, keptEntries: 3 });
    expect(readFileSync(journalFile(d), "utf8")).toBe(keptLines.join(""));
    expect(readdirSync(d).sort()).toEqual([
      basename(journalFile(d)),
      `${basename(journalFile(d), ".jsonl")}.lock`,
    ]);
    // Writing goes on in the new file.
    await s.append(A, [runStart("r2")]);
    await s.finishRun(A, "r1", "completed");
    // A damaged line found by compaction stops it: nothing is dropped.
    const now = readFileSync(journalFile(d));
    const damaged = Buffer.from(now);
    flip(damaged, lines(now)[1]!.start + 30);
    writeFileSync(journalFile(d), damaged);
    expect(await codeOf(s.compact(A))).toBe("journal_corrupt");
    expect(readFileSync(journalFile(d))).toEqual(damaged);
  });

  it("compaction moves a torn last line aside first", async () => {
    const d = dir();
    const { file, bytes } = await sampleJournal(d);
    writeFileSync(file, bytes.subarray(0, bytes.length - 7));
    const s = store(d);
    await s.append(A, [runStart("r2")]);
    await s.finishRun(A, "r2", "abandoned");
    expect((await s.compact(A)).removedRuns).toBe(1);
    expect((await s.openRuns(A)).runs[0]!.entries).toHaveLength(5);
    expect(readdirSync(d).filter((n) => n.endsWith(".torn.jsonl"))).toHaveLength(1);
  });
});

describe("fileJournal: the lock, within one process", () => {
  it("holds pid, host, token and start time; refuses a second store; is released by close", async () => {
    const d = dir();
    const s = fileJournal(d, { clock: { now: () => 12_345, sleep: async () => {} } });
    await s.openRuns(A);
    const lockName = readdirSync(d).find((n) => n.endsWith(".lock"))!;
    const lock = JSON.parse(readFileSync(join(d, lockName), "utf8"));
    expect(lock).toEqual({
      pid: process.pid,
      hostname: hostname(),
      token: expect.stringMatching(/^[0-9a-f]{16}$/),
      startedAt: 12_345,
      account: A,
    });
    const second = store(d);
    expect(await second.openRuns(A).catch((e: unknown) => e)).toMatchObject({
      code: "journal_locked",
      details: { pid: process.pid },
    });
    // Other accounts are other locks.
    await second.append("PA-0002", [runStart("r1")]);
    await s.close();
    expect(readdirSync(d).filter((n) => n === lockName)).toEqual([]);
    expect((await second.openRuns(A)).warnings).toEqual([]);
  });

  it("takes over the lock of a dead process, reports it, and cleans what dead processes of this host left", async () => {
    const d = dir();
    const { file } = await sampleJournal(d);
    const lockPath = file.replace(/\.jsonl$/, ".lock");
    const pid = deadPid();
    const dead = { pid, hostname: hostname(), token: "0123456789abcdef", startedAt: 5, account: A };
    writeFileSync(lockPath, JSON.stringify(dead));
    const leftovers = [
      `${lockPath}.${pid}.a1b2c3.tmp`,
      `${lockPath}.takeover-0123456789abcdef`,
      file.replace(/\.jsonl$/, `.${pid}.d4e5f6.tmp`),
    ];
    writeFileSync(leftovers[0]!, JSON.stringify(dead));
    writeFileSync(leftovers[1]!, JSON.stringify({ ...dead, token: "fedcba9876543210" }));
    writeFileSync(leftovers[2]!, "half a compaction");
    const live = `${lockPath}.${process.pid}.abcdef.tmp`;
    writeFileSync(live, "a live contender's candidate");
    const foreign = `${lockPath}.${pid}.bcdef0.tmp`;
    writeFileSync(foreign, JSON.stringify({ ...dead, hostname: "elsewhere" }));
    const logger = captureLogger();
    const s = store(d, { logger });
    const got = await s.openRuns(A);
    expect(got.runs[0]!.entries).toHaveLength(6);
    expect(got.warnings).toEqual([expect.objectContaining({ kind: "stale_lock", pid, startedAt: 5 })]);
    expect(logger.lines.some((l) => l.level === "warn")).toBe(true);
    expect(JSON.parse(readFileSync(lockPath, "utf8")).pid).toBe(process.pid);
    const names = readdirSync(d);
    for (const l of leftovers) expect(names).not.toContain(basename(l));
    expect(names).toContain(basename(live));
    expect(names).toContain(basename(foreign)); // its pid means nothing on this host
  });

  it("refuses a lock held on another host, or one it cannot read", async () => {
    const d = dir();
    const { file } = await sampleJournal(d);
    const lockPath = file.replace(/\.jsonl$/, ".lock");
    const pid = deadPid();
    writeFileSync(
      lockPath,
      JSON.stringify({ pid, hostname: "elsewhere", token: "0123456789abcdef", startedAt: 5, account: A }),
    );
    expect(
      await store(d)
        .openRuns(A)
        .catch((e: unknown) => e),
    ).toMatchObject({
      code: "journal_locked",
      details: { hostname: "elsewhere" },
    });
    writeFileSync(lockPath, "");
    expect(await codeOf(store(d).openRuns(A))).toBe("journal_locked");
  });

  it("stops writing once the lock is no longer its own", async () => {
    const d = dir();
    const s = store(d);
    await s.append(A, [runStart("r1")]);
    const lockPath = journalFile(d).replace(/\.jsonl$/, ".lock");
    writeFileSync(`${lockPath}.x`, readFileSync(lockPath));
    renameSync(`${lockPath}.x`, lockPath);
    expect(await codeOf(s.append(A, [intent("r1")]))).toBe("journal_locked");
    expect(await codeOf(s.openRuns(A))).toBe("journal_locked");
  });
});

describe("fileJournal: failures", () => {
  it("a failed sync rejects with journal_io; the account then refuses every call; a new store reads what is there", async () => {
    const d = dir();
    let syncs = 0;
    const openFile: OpenJournalFile = async (path, flags, mode) => {
      const h = await open(path, flags, mode);
      return {
        read: (b, o, l, p) => h.read(b, o, l, p),
        write: (b, o, l, p) => h.write(b, o, l, p),
        truncate: (l) => h.truncate(l),
        stat: () => h.stat(),
        sync: () => h.sync(),
        close: () => h.close(),
        datasync: async () => {
          if (++syncs === 3) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
          await h.datasync();
        },
      };
    };
    const s = fileJournal(d, { openFile });
    cleanups.push(() => s.close());
    await s.append(A, [runStart("r1")], { durable: true }); // syncs 1 (header) and 2
    const e = await s.append(A, [submit("r1", "c1")], { durable: true }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "journal_io", details: { errno: "EIO" } });
    expect(await codeOf(s.append(A, [intent("r1")]))).toBe("journal_io");
    expect(await codeOf(s.openRuns(A))).toBe("journal_io");
    await s.close();
    const again = store(d);
    const entries = (await again.openRuns(A)).runs[0]!.entries;
    // The write went through before the sync failed: the send may be there, and is.
    expect(entries.map((x) => x.type)).toEqual(["run_start", "send"]);
  });

  it("refuses unknown options and a bad directory", () => {
    expect(() => fileJournal("", {})).toThrow(expect.objectContaining({ code: "validation" }));
    expect(() => fileJournal("/tmp/x", { fsync: "yes" } as never)).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => fileJournal("/tmp/x", { durable: true } as never)).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
  });
});
