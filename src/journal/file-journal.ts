import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, readdir, rename, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { type Clock, systemClock } from "../core/clock.js";
import { OrdersafeError } from "../core/errors.js";
import { type Logger, silentLogger } from "../core/logger.js";
import { parseInput, zClock, zLogger } from "../core/validation.js";
import { acquireLock, type HeldLock, ioError, isProcessAlive, removeLockLeftovers } from "./file-lock.js";
import { checkCall, prepareBatch, runEndEntry, SerialQueue, sequenceError } from "./journal-batch.js";
import type { JournalEntry, JournalEntryInput, RunOutcome, RunStartEntry } from "./journal-entry.js";
import { encodeEntries, encodeHeader, type ScanResult, scanJournal } from "./journal-file.js";
import type {
  CompactResult,
  FinishRunOptions,
  JournalAppendOptions,
  JournalCallOptions,
  JournalRun,
  JournalStore,
  JournalWarning,
  OpenRuns,
} from "./journal-store.js";
import { RunIndex } from "./run-index.js";

/**
 * The part of an open file the journal uses; `node:fs/promises`' `FileHandle` has it all.
 * Tests wrap it to count `datasync` calls.
 */
export interface JournalFileHandle {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/** Opens a file for the journal, as `node:fs/promises`' `open(path, flags, mode)` does. */
export type OpenJournalFile = (path: string, flags: number, mode: number) => Promise<JournalFileHandle>;

/** Options of {@link fileJournal}. */
export interface FileJournalOptions {
  /**
   * Whether a durable append (and `finishRun`, and `compact`) waits for an fdatasync. Turn
   * off only where losing the journal on a power cut is acceptable (tests, tmpfs).
   * @defaultValue true
   */
  fsync?: boolean;
  /** Stamps entries written without `at`, and the lock's start time. @defaultValue systemClock */
  clock?: Clock;
  /** Where a torn line or a stale lock taken over is reported. @defaultValue silentLogger */
  logger?: Logger;
  /**
   * How long to wait while another process of this host is taking over a stale lock (ms);
   * a lock held by a live process is refused at once.
   * @defaultValue 2000
   */
  lockWaitMs?: number;
  /**
   * Opens the journal's data files (the journal, its compaction copy, its torn-line file).
   * For tests that count syncs; leave it out otherwise.
   * @defaultValue `open` of `node:fs/promises`
   */
  openFile?: OpenJournalFile;
}

const FileJournalOptionsSchema = z
  .object({
    fsync: z.boolean().default(true),
    clock: zClock.optional(),
    logger: zLogger.optional(),
    lockWaitMs: z.number().int().min(0).max(600_000).default(2_000),
    openFile: z
      .custom<OpenJournalFile>((v) => typeof v === "function", { message: "expected a function" })
      .optional(),
  })
  .strict();

const defaultOpen: OpenJournalFile = (path, flags, mode) => open(path, flags, mode);

/**
 * The journal file's base name for an account: a readable slug and 12 hex digits of the
 * account's SHA-256, so any account string maps to one safe, distinct name.
 *
 * @param account - the account
 * @returns a name such as `PA123-5f0c9a1be2d4`
 */
export function journalBaseName(account: string): string {
  const slug = account
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .replace(/^\.+/, "_")
    .slice(0, 48);
  const hash = createHash("sha256").update(account, "utf8").digest("hex").slice(0, 12);
  return `${slug}-${hash}`;
}

/**
 * A journal in a directory: one JSON-lines file per account, each line checksummed, each
 * durable append synced (fdatasync) before it resolves, one writing process per account at a
 * time (a lock file), finished runs compacted away.
 *
 * @remarks
 * Each append is one write call, and a durable one one fdatasync. An account's file is
 * opened, and its lock taken, by the first call that names the account; `close()` releases
 * the locks. A lock left by a dead process of this host is taken over (reported as a
 * `stale_lock` warning); a live holder, or a holder on another host, is refused with
 * `journal_locked`: the lock protects one host, not hosts sharing a network file system.
 * A torn last line (a crash in the middle of a write) is reported (`torn_tail`) and logged;
 * the entries before it are intact, and the next write moves its bytes to
 * `<name>.torn.jsonl` before writing on a fresh line. Any other damaged line is
 * `journal_corrupt`, never skipped. See docs/journal.md.
 *
 * An append that rejects with `journal_io` may or may not be on disk: the account's journal
 * refuses every later call in this store (the state of the file is unknown); a new store
 * reads what is there.
 *
 * @param dir - the directory (created if missing)
 * @param options - `fsync`, `clock`, `logger`, `lockWaitMs`, `openFile` (tests)
 * @returns a {@link JournalStore}
 * @throws ValidationError (`validation`) for a bad directory or options
 * @example
 * ```ts
 * const journal = fileJournal("/var/lib/mybot/journal", { logger: pino() });
 * const { runs, warnings } = await journal.openRuns("PA123");
 * ```
 */
export function fileJournal(dir: string, options: FileJournalOptions = {}): JournalStore {
  const d = parseInput(z.string().min(1), dir, "dir");
  const o = parseInput(FileJournalOptionsSchema, options, "options");
  return new FileJournal(resolve(d), {
    fsync: o.fsync,
    clock: o.clock ?? systemClock,
    logger: o.logger ?? silentLogger,
    lockWaitMs: o.lockWaitMs,
    openFile: o.openFile ?? defaultOpen,
  });
}

interface Settings {
  readonly fsync: boolean;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly lockWaitMs: number;
  readonly openFile: OpenJournalFile;
}

class FileJournal implements JournalStore {
  readonly id: string;
  private readonly accounts = new Map<string, Promise<AccountFile>>();
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly settings: Settings,
  ) {
    this.id = `file:${dir}`;
  }

  async append(account: string, entries: readonly JournalEntryInput[], options: JournalAppendOptions = {}) {
    checkCall(account, this.closed, options.signal);
    const batch = prepareBatch(entries, this.settings.clock.now());
    const file = await this.file(account);
    await file.queue.run(() => file.append(batch, options.durable === true));
  }

  async openRuns(account: string, options: JournalCallOptions = {}): Promise<OpenRuns> {
    checkCall(account, this.closed, options.signal);
    const file = await this.file(account);
    return file.queue.run(() => file.openRuns());
  }

  async finishRun(account: string, runId: string, outcome: RunOutcome, options: FinishRunOptions = {}) {
    checkCall(account, this.closed, options.signal);
    const end = runEndEntry(runId, outcome, options, this.settings.clock.now());
    const file = await this.file(account);
    return file.queue.run(async () => {
      if (!file.isOpen(runId)) return false;
      await file.append([end], true);
      return true;
    });
  }

  async compact(account: string, options: JournalCallOptions = {}): Promise<CompactResult> {
    checkCall(account, this.closed, options.signal);
    const file = await this.file(account);
    return file.queue.run(() => file.compact());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const files = await Promise.allSettled(this.accounts.values());
    this.accounts.clear();
    for (const f of files) if (f.status === "fulfilled") await f.value.close();
  }

  /**
   * The account's open file: opened (lock taken, file read) by the first call that names it.
   * Shared by every call, so no one caller's signal governs it; its waits are bounded by
   * `lockWaitMs`.
   */
  private file(account: string): Promise<AccountFile> {
    let file = this.accounts.get(account);
    if (file === undefined) {
      file = AccountFile.open(this.dir, account, this.settings);
      this.accounts.set(account, file);
      // A failed open (locked, corrupt) is not remembered: a later call tries again.
      file.catch(() => {
        if (this.accounts.get(account) === file) this.accounts.delete(account);
      });
    }
    return file;
  }
}

/** One account's journal file, its lock, and what this process knows of it. */
class AccountFile {
  readonly queue = new SerialQueue();
  private readonly path: string;
  private readonly tornPath: string;
  private readonly warnings: JournalWarning[] = [];
  private index = new RunIndex(false);
  private end = 0;
  private hasHeader = false;
  private torn: { offset: number; length: number } | undefined;
  /** Set once a write or sync failed: the file's state is unknown, nothing more is done. */
  private failed: OrdersafeError | undefined;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly base: string,
    private readonly account: string,
    private readonly settings: Settings,
    private readonly lock: HeldLock,
    private handle: JournalFileHandle,
  ) {
    this.path = join(dir, `${base}.jsonl`);
    this.tornPath = join(dir, `${base}.torn.jsonl`);
  }

  static async open(dir: string, account: string, settings: Settings): Promise<AccountFile> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw ioError(dir, "creating the journal directory", e);
    }
    const base = journalBaseName(account);
    const host = hostname();
    const lock = await acquireLock(join(dir, `${base}.lock`), {
      account,
      hostname: host,
      pid: process.pid,
      clock: settings.clock,
      waitMs: settings.lockWaitMs,
    });
    let handle: JournalFileHandle | undefined;
    try {
      await removeLockLeftovers(lock.path, host);
      await removeTempFiles(dir, base);
      const path = join(dir, `${base}.jsonl`);
      try {
        handle = await settings.openFile(path, constants.O_RDWR | constants.O_CREAT, 0o600);
      } catch (e) {
        throw ioError(path, "opening the journal", e);
      }
      const file = new AccountFile(dir, base, account, settings, lock, handle);
      await file.load();
      if (lock.tookOverFrom !== undefined) file.noteStaleLock(lock.tookOverFrom);
      return file;
    } catch (e) {
      await handle?.close().catch(() => undefined);
      await lock.release();
      throw e;
    }
  }

  /** Reads the file (a new one gets its header, synced with its directory). */
  private async load(): Promise<void> {
    const scan = await this.scan();
    this.adopt(scan.index, scan.result);
    if (scan.result.torn !== undefined) {
      const { offset, length } = scan.result.torn;
      const message = `journal of account ${this.account}: the last line (byte ${offset}, ${length} bytes) is torn, as a crash in the middle of a write leaves it; the entries before it are intact, and the next write moves it to ${this.tornPath}`;
      this.warnings.push({
        kind: "torn_tail",
        account: this.account,
        offset,
        length,
        repaired: false,
        message,
      });
      this.settings.logger.warn(
        { account: this.account, path: this.path, offset, length },
        `[ordersafe] ${message}`,
      );
    } else if (!this.hasHeader) {
      await this.guard("creating the journal", async () => {
        const header = encodeHeader(this.account);
        await writeAll(this.handle, header, 0);
        if (this.settings.fsync) await this.handle.datasync();
        this.end = header.length;
        this.hasHeader = true;
      });
      if (this.settings.fsync) await syncDir(this.dir);
    }
  }

  private async scan(): Promise<{ index: RunIndex; result: ScanResult }> {
    const buf = await this.guard("reading the journal", () => readAll(this.handle));
    const index = new RunIndex(false);
    return { index, result: scanJournal(buf, this.account, index, this.path) };
  }

  private adopt(index: RunIndex, result: ScanResult): void {
    this.index = index;
    this.end = result.end;
    this.hasHeader = result.hasHeader;
    this.torn = result.torn;
  }

  private noteStaleLock(dead: { pid: number; hostname: string; startedAt: number }): void {
    const message = `journal of account ${this.account}: took over the lock of process ${dead.pid} on ${dead.hostname} (started ${dead.startedAt}), which is gone`;
    const { pid, hostname: host, startedAt } = dead;
    this.warnings.push({
      kind: "stale_lock",
      account: this.account,
      pid,
      hostname: host,
      startedAt,
      message,
    });
    this.settings.logger.warn({ account: this.account, pid: dead.pid }, `[ordersafe] ${message}`);
  }

  isOpen(runId: string): boolean {
    return this.index.isOpen(runId);
  }

  /** Writes a batch in one write call, synced when durable. */
  async append(batch: readonly JournalEntry[], durable: boolean): Promise<void> {
    this.usable();
    const violation = this.index.check(batch);
    if (violation !== undefined) throw sequenceError(this.account, violation);
    this.assertLocked();
    await this.guard("appending to the journal", async () => {
      if (this.torn !== undefined) await this.moveTornAside();
      const body = encodeEntries(batch);
      const bytes = this.hasHeader ? body : Buffer.concat([encodeHeader(this.account), body]);
      await writeAll(this.handle, bytes, this.end);
      if (durable && this.settings.fsync) await this.handle.datasync();
      this.end += bytes.length;
      this.hasHeader = true;
    });
    this.index.apply(batch);
  }

  /** Reads the file again (what a restarted process would read) and returns its open runs. */
  async openRuns(): Promise<OpenRuns> {
    this.usable();
    const { index, result } = await this.scan();
    // Nobody else writes this file while we hold the lock: anything else is a second writer.
    if (result.end !== this.end || (result.torn !== undefined) !== (this.torn !== undefined)) {
      throw new OrdersafeError(
        "journal_corrupt",
        `journal ${this.path}: the file changed under this process (another writer?)`,
        { details: { path: this.path, account: this.account, expectedEnd: this.end, foundEnd: result.end } },
      );
    }
    this.adopt(index, result);
    const byRun = new Map<string, JournalEntry[]>();
    for (const line of result.lines) {
      const runId = line.entry.runId;
      if (!index.isOpen(runId)) continue;
      const list = byRun.get(runId);
      if (list === undefined) byRun.set(runId, [line.entry]);
      else list.push(line.entry);
    }
    const runs: JournalRun[] = [];
    for (const [runId, entries] of byRun) runs.push({ runId, start: entries[0] as RunStartEntry, entries });
    return { runs, warnings: [...this.warnings] };
  }

  /** Rewrites the file without the finished runs: a synced copy renamed over it, then the directory synced. */
  async compact(): Promise<CompactResult> {
    this.usable();
    const counts = this.index.counts();
    if (counts.finishedRuns === 0 && this.torn === undefined) {
      return { removedRuns: 0, removedEntries: 0, keptEntries: counts.openEntries };
    }
    this.assertLocked();
    if (this.torn !== undefined) await this.guard("moving a torn line aside", () => this.moveTornAside());
    const buf = await this.guard("reading the journal", () => readAll(this.handle));
    const fresh = new RunIndex(false);
    const scan = scanJournal(buf, this.account, fresh, this.path);
    const parts: Buffer[] = [encodeHeader(this.account)];
    for (const line of scan.lines) {
      if (fresh.isOpen(line.entry.runId)) parts.push(buf.subarray(line.offset, line.offset + line.length));
    }
    const bytes = Buffer.concat(parts);
    const tmp = join(this.dir, `${this.base}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      const h = await this.settings.openFile(
        tmp,
        constants.O_RDWR | constants.O_CREAT | constants.O_EXCL,
        0o600,
      );
      try {
        await writeAll(h, bytes, 0);
        if (this.settings.fsync) await h.sync();
      } finally {
        await h.close();
      }
      this.assertLocked();
      await rename(tmp, this.path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw ioError(this.path, "compacting the journal", e);
    }
    // The old handle points at the replaced file: nothing may be written through it again.
    await this.guard("reopening the compacted journal", async () => {
      if (this.settings.fsync) await syncDir(this.dir);
      const old = this.handle;
      this.handle = await this.settings.openFile(this.path, constants.O_RDWR, 0o600);
      await old.close().catch(() => undefined);
    });
    const result = fresh.dropFinished();
    this.index = fresh;
    this.end = bytes.length;
    this.hasHeader = true;
    this.torn = undefined;
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.idle();
    await this.handle.close().catch(() => undefined);
    await this.lock.release();
  }

  /** Copies the torn last line to `<name>.torn.jsonl` (synced), then cuts it off the journal (synced). */
  private async moveTornAside(): Promise<void> {
    const torn = this.torn;
    if (torn === undefined) return;
    const bytes = Buffer.alloc(torn.length);
    let got = 0;
    while (got < torn.length) {
      const { bytesRead } = await this.handle.read(bytes, got, torn.length - got, torn.offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const record = {
      at: this.settings.clock.now(),
      account: this.account,
      offset: torn.offset,
      length: torn.length,
      base64: bytes.subarray(0, got).toString("base64"),
    };
    const side = await this.settings.openFile(this.tornPath, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      const { size } = await side.stat();
      await writeAll(side, Buffer.from(`${JSON.stringify(record)}\n`, "utf8"), size);
      if (this.settings.fsync) await side.sync();
    } finally {
      await side.close();
    }
    await this.handle.truncate(torn.offset);
    if (this.settings.fsync) await this.handle.datasync();
    this.torn = undefined;
    const message = `journal of account ${this.account}: the torn last line (byte ${torn.offset}, ${torn.length} bytes) was moved to ${this.tornPath}; writing goes on from a fresh line`;
    const i = this.warnings.findIndex(
      (w) => w.kind === "torn_tail" && !w.repaired && w.offset === torn.offset,
    );
    const warning: JournalWarning = {
      kind: "torn_tail",
      account: this.account,
      offset: torn.offset,
      length: torn.length,
      repaired: true,
      savedTo: this.tornPath,
      message,
    };
    if (i >= 0) this.warnings[i] = warning;
    else this.warnings.push(warning);
    this.settings.logger.warn({ account: this.account, path: this.tornPath }, `[ordersafe] ${message}`);
  }

  private usable(): void {
    if (this.failed !== undefined) throw this.failed;
    if (this.closed) throw new OrdersafeError("invalid_state", "the journal is closed");
  }

  private assertLocked(): void {
    if (!this.lock.isHeld()) {
      const e = new OrdersafeError(
        "journal_locked",
        `journal of account ${this.account}: the lock ${this.lock.path} is no longer ours; nothing more is written`,
        { details: { path: this.lock.path, account: this.account }, retryable: false },
      );
      this.failed = e;
      throw e;
    }
  }

  /** Runs file work; a failure leaves the file in an unknown state, so the account refuses all later calls. */
  private async guard<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      const error = ioError(this.path, what, e);
      if (error.code === "journal_io") this.failed = error;
      throw error;
    }
  }
}

async function readAll(handle: JournalFileHandle): Promise<Buffer> {
  const { size } = await handle.stat();
  const buf = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const { bytesRead } = await handle.read(buf, got, size - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === size ? buf : buf.subarray(0, got);
}

async function writeAll(handle: JournalFileHandle, bytes: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw new Error("the write made no progress");
    done += bytesWritten;
  }
}

/** Syncs a directory, so a file created or renamed in it survives a power cut (not possible on Windows). */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  let h: Awaited<ReturnType<typeof open>> | undefined;
  try {
    h = await open(dir, "r");
    await h.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EPERM")
      throw ioError(dir, "syncing the directory", e);
  } finally {
    await h?.close().catch(() => undefined);
  }
}

/** Removes compaction copies left by dead processes (we hold the lock: no live one is compacting). */
async function removeTempFiles(dir: string, base: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(\\d+)\\.[0-9a-f]+\\.tmp$`);
  for (const name of names) {
    const m = re.exec(name);
    if (m !== null && !isProcessAlive(Number(m[1]))) await unlink(join(dir, name)).catch(() => undefined);
  }
}
