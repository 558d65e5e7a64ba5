import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { link, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type Clock, throwIfAborted } from "../core/clock.js";
import { isOrdersafeError, OrdersafeError } from "../core/errors.js";

// One writer per account across the processes of a host: a lock file holding its owner.
//
// Taking the lock: write a candidate file with our owner record (pid, host, token, start),
// then link(2) it to the lock's name. link fails with EEXIST when the lock exists, like
// O_EXCL, and the lock appears with its whole content at once, so no reader ever sees it
// empty.
//
// Taking over a stale lock (its pid is gone on this host), whose owner token is T: first
// take the claim `<lock>.takeover-T`, itself a lock taken by this same procedure (a claim
// left by a dead process is taken over in turn, one level deeper). While holding the claim,
// read the lock again: if it still holds T, rename(2) our candidate over it. Only the claim's
// holder may replace a lock holding T, and a process that took the claim after a
// replacement reads a token other than T and backs off, so two contenders never both win.

/** The record a lock file holds. */
export interface LockOwner {
  /** The holder's process id. */
  readonly pid: number;
  /** The holder's host name. */
  readonly hostname: string;
  /** Random, unique to this holding. */
  readonly token: string;
  /** When it was taken (ms, the holder's clock). */
  readonly startedAt: number;
  /** The account whose journal it guards. */
  readonly account: string;
}

/** A lock this process holds. */
export interface HeldLock {
  /** The lock file. */
  readonly path: string;
  /** Our record in it. */
  readonly owner: LockOwner;
  /** The dead holder it was taken over from, if it was. */
  readonly tookOverFrom: LockOwner | undefined;
  /** Whether the lock file is still the one we made (nobody took it over). */
  isHeld(): boolean;
  /** Removes the lock file if it is still ours. */
  release(): Promise<void>;
}

/** What {@link acquireLock} needs. */
export interface AcquireLockOptions {
  /** The account, recorded in the lock. */
  readonly account: string;
  /** This host's name. */
  readonly hostname: string;
  /** This process's id. */
  readonly pid: number;
  /** For the start time and the waits. */
  readonly clock: Clock;
  /** How long to wait while another process is taking over a stale lock (ms). */
  readonly waitMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** How deep stale takeover claims may nest (each level: a claimer that died mid-takeover). */
const MAX_CLAIM_DEPTH = 3;
/** How long to wait between looks while another process takes a stale lock over (ms). */
const RETRY_MS = 10;
/** Upper bound of attempts, whatever the clock says (a virtual clock may not move). */
const MAX_ATTEMPTS = 500;

/**
 * Whether a process of this host is alive: `kill(pid, 0)` succeeds or is refused for
 * permission (it exists, under another user). Only ESRCH says it is gone.
 *
 * @param pid - a process id
 * @returns false only when the process certainly does not exist
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Takes the lock file at `path`, taking it over when its holder is a dead process of this
 * host.
 *
 * @param path - the lock file
 * @param options - account, host, pid, clock, waitMs, signal
 * @returns the held lock
 * @throws OrdersafeError (`journal_locked`) when a live process (or one on another host, or
 *   an unreadable lock file) holds it
 * @throws OrdersafeError (`journal_io`) when the file system fails
 */
export async function acquireLock(path: string, options: AcquireLockOptions): Promise<HeldLock> {
  const owner: LockOwner = {
    pid: options.pid,
    hostname: options.hostname,
    // Real entropy, not an injected seed: two processes started from one seed must still
    // hold different tokens.
    token: randomBytes(8).toString("hex"),
    startedAt: options.clock.now(),
    account: options.account,
  };
  const took = await take(path, owner, options, 0);
  return {
    path,
    owner,
    tookOverFrom: took.previous,
    isHeld() {
      try {
        // Synchronous: one stat of a local file takes microseconds, a trip through the
        // thread pool (before every write) far longer on a busy machine.
        const s = statSync(path);
        return s.ino === took.ino && s.dev === took.dev;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw ioError(path, "checking the lock", e);
      }
    },
    release: () => releaseIfOurs(path, owner.token),
  };
}

interface Taken {
  ino: number;
  dev: number;
  previous: LockOwner | undefined;
}

async function take(
  path: string,
  owner: LockOwner,
  options: AcquireLockOptions,
  depth: number,
): Promise<Taken> {
  const deadline = options.clock.now() + options.waitMs;
  let lastHolder: LockOwner | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    throwIfAborted(options.signal);
    const candidate = await writeCandidate(path, owner);
    try {
      if (await tryLink(candidate, path)) return { ...(await ids(path)), previous: undefined };
      const holder = await readOwner(path);
      if (holder === undefined) continue; // released in between: try again
      if (holder === "unreadable") {
        throw locked(
          path,
          owner.account,
          undefined,
          "the lock file is unreadable; remove it once no process uses this journal",
        );
      }
      lastHolder = holder;
      if (holder.hostname !== owner.hostname) {
        throw locked(
          path,
          owner.account,
          holder,
          `held by host ${holder.hostname}, whose processes cannot be checked from here`,
        );
      }
      if (isProcessAlive(holder.pid)) throw locked(path, owner.account, holder, "held by a live process");
      if (depth >= MAX_CLAIM_DEPTH) {
        throw locked(path, owner.account, holder, "stale takeover claims nest too deep; remove them by hand");
      }
      // Stale: only the holder of the claim on its token may replace it.
      const claimPath = `${path}.takeover-${holder.token}`;
      try {
        await take(claimPath, owner, options, depth + 1);
      } catch (e) {
        // Another live process is taking it over: wait, then look at the lock again.
        if (isOrdersafeError(e) && e.code === "journal_locked" && options.clock.now() < deadline) {
          await options.clock.sleep(RETRY_MS, options.signal);
          continue;
        }
        throw e;
      }
      try {
        const current = await readOwner(path);
        if (current === undefined || current === "unreadable" || current.token !== holder.token) continue;
        await renameOver(candidate, path);
        const taken = await ids(path);
        const after = await readOwner(path);
        if (after === undefined || after === "unreadable" || after.token !== owner.token) {
          throw locked(path, owner.account, undefined, "lost the lock right after taking it over");
        }
        return { ...taken, previous: holder };
      } finally {
        await releaseIfOurs(claimPath, owner.token);
      }
    } finally {
      await removeQuietly(candidate);
    }
  }
  throw locked(path, owner.account, lastHolder, "the lock kept changing hands");
}

function candidateName(path: string, pid: number): string {
  return `${path}.${pid}.${randomBytes(6).toString("hex")}.tmp`;
}

/** Writes our owner record to a fresh file beside the lock, synced, so a lock never appears empty. */
async function writeCandidate(path: string, owner: LockOwner): Promise<string> {
  const name = candidateName(path, owner.pid);
  try {
    const h = await open(name, "wx", 0o600);
    try {
      await h.writeFile(`${JSON.stringify(owner)}\n`, "utf8");
      await h.datasync();
    } finally {
      await h.close();
    }
    return name;
  } catch (e) {
    await removeQuietly(name);
    throw ioError(path, "writing a lock candidate", e);
  }
}

async function tryLink(candidate: string, path: string): Promise<boolean> {
  try {
    await link(candidate, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw ioError(path, "creating the lock", e);
  }
}

async function renameOver(candidate: string, path: string): Promise<void> {
  try {
    await rename(candidate, path);
  } catch (e) {
    throw ioError(path, "taking over the lock", e);
  }
}

async function ids(path: string): Promise<{ ino: number; dev: number }> {
  try {
    const s = await stat(path);
    return { ino: s.ino, dev: s.dev };
  } catch (e) {
    throw ioError(path, "reading the lock", e);
  }
}

/**
 * Reads a lock file's owner record.
 *
 * @returns the record, undefined when there is no such file, "unreadable" when it is not a record
 */
export async function readOwner(path: string): Promise<LockOwner | "unreadable" | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "EACCES" || code === "EPERM") return "unreadable";
    throw ioError(path, "reading the lock", e);
  }
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (
      Number.isSafeInteger(o.pid) &&
      typeof o.hostname === "string" &&
      typeof o.token === "string" &&
      /^[0-9a-f]{16}$/.test(o.token) &&
      typeof o.startedAt === "number" &&
      typeof o.account === "string"
    ) {
      return o as LockOwner;
    }
  } catch {
    // fall through
  }
  return "unreadable";
}

async function releaseIfOurs(path: string, token: string): Promise<void> {
  const current = await readOwner(path).catch(() => undefined);
  if (current !== undefined && current !== "unreadable" && current.token === token) await removeQuietly(path);
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // already gone, or not ours to worry about
  }
}

/**
 * Removes what dead processes left beside a lock we hold: their candidate files and their
 * takeover claims. Safe because a claim on any token but the lock's current one (ours) can
 * never replace the lock.
 *
 * @param lockPath - the lock we hold
 * @param hostname - this host
 */
export async function removeLockLeftovers(lockPath: string, hostname: string): Promise<void> {
  const dir = dirname(lockPath);
  const prefix = `${basename(lockPath)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const full = join(dir, name);
    const tmp = /\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
    if (tmp !== null) {
      // A candidate holds its writer's record: only this host's dead processes' are removed.
      const o = await readOwner(full).catch(() => undefined);
      const host = o !== undefined && o !== "unreadable" ? o.hostname : hostname;
      if (host === hostname && !isProcessAlive(Number(tmp[1]))) await removeQuietly(full);
      continue;
    }
    if (/\.takeover-[0-9a-f]{16}$/.test(name)) {
      const o = await readOwner(full).catch(() => undefined);
      if (o !== undefined && o !== "unreadable" && o.hostname === hostname && !isProcessAlive(o.pid)) {
        await removeQuietly(full);
      }
    }
  }
}

function locked(path: string, account: string, holder: LockOwner | undefined, why: string): OrdersafeError {
  const who =
    holder === undefined ? "" : ` (pid ${holder.pid} on ${holder.hostname}, since ${holder.startedAt})`;
  return new OrdersafeError("journal_locked", `journal of account ${account} is locked${who}: ${why}`, {
    details: {
      path,
      account,
      ...(holder === undefined
        ? {}
        : { pid: holder.pid, hostname: holder.hostname, startedAt: holder.startedAt }),
    },
    retryable: false,
  });
}

/**
 * Wraps a file-system failure as `journal_io` (an ordersafe error passes through).
 *
 * @param path - the file
 * @param what - what was being done
 * @param e - the failure
 * @returns the error to throw
 */
export function ioError(path: string, what: string, e: unknown): OrdersafeError {
  if (isOrdersafeError(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return new OrdersafeError("journal_io", `journal ${path}: ${what} failed: ${message}`, {
    details: { path, what, ...(code === undefined ? {} : { errno: code }) },
    cause: e,
  });
}
