import { type ChildProcess, fork, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runStart, tempDir } from "./fixtures.js";

// Real processes on one journal directory: each child opens the account's file journal
// when told to (test/journal/lock-child.ts, run through tsx).

const ACCOUNT = "PA-0001";
const CHILD = join(__dirname, "lock-child.ts");
const ROOT = join(__dirname, "..", "..");

interface Reply {
  ok?: boolean;
  code?: string;
  message?: string;
  runs?: number;
  warnings?: { kind: string; pid?: number }[];
}

class Child {
  readonly proc: ChildProcess;
  private readonly waiting: ((m: Reply) => void)[] = [];
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  constructor(dir: string) {
    this.proc = fork(CHILD, [dir, ACCOUNT], {
      cwd: ROOT,
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.exited = new Promise((resolve) => this.proc.once("exit", () => resolve()));
    this.ready = new Promise((resolve) => {
      this.proc.once("message", () => {
        this.proc.on("message", (m: Reply) => this.waiting.shift()?.(m));
        resolve();
      });
    });
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  send(message: object): Promise<Reply> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.proc.send(message);
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
    await this.exited;
  }
}

function isDead(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** A process id that belongs to no process: one that has exited (checked again before use). */
function deadPid(): number {
  for (;;) {
    const pid = spawnSync(process.execPath, ["-e", ""]).pid as number;
    if (isDead(pid)) return pid;
  }
}

const children: Child[] = [];
const dirs: (() => void)[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop()));
  for (const r of dirs.splice(0)) r();
});

function start(dir: string): Child {
  const c = new Child(dir);
  children.push(c);
  return c;
}

function newDir(): string {
  const t = tempDir();
  dirs.push(t.remove);
  return t.dir;
}

describe("fileJournal lock across processes", () => {
  it("a second process is refused while the first holds the lock, and takes it over once the first is SIGKILLed", async () => {
    const dir = newDir();
    const first = start(dir);
    const second = start(dir);
    await Promise.all([first.ready, second.ready]);

    expect(await first.send({ cmd: "acquire" })).toMatchObject({ ok: true, runs: 0 });
    expect(await first.send({ cmd: "append", entries: [runStart("crashed-run")] })).toMatchObject({
      ok: true,
    });
    const refused = await second.send({ cmd: "acquire" });
    expect(refused).toMatchObject({ ok: false, code: "journal_locked" });
    expect(refused.message).toContain(String(first.pid));

    first.proc.kill("SIGKILL");
    await first.exited; // reaped: no longer a zombie that kill(pid, 0) still finds

    const taken = await second.send({ cmd: "acquire" });
    expect(taken).toMatchObject({ ok: true, runs: 1 });
    expect(taken.warnings).toEqual([expect.objectContaining({ kind: "stale_lock", pid: first.pid })]);
    const lockName = readdirSync(dir).find((n) => n.endsWith(".lock"))!;
    expect(JSON.parse(readFileSync(join(dir, lockName), "utf8")).pid).toBe(second.pid);

    // Released on close: a third process takes it without any takeover.
    expect(await second.send({ cmd: "release" })).toMatchObject({ ok: true });
    expect(existsSync(join(dir, lockName))).toBe(false);
    const third = start(dir);
    await third.ready;
    expect(await third.send({ cmd: "acquire" })).toMatchObject({ ok: true, runs: 1, warnings: [] });
  });

  it("two processes racing for a free or a stale lock: exactly one wins, every round", async () => {
    const dir = newDir();
    const b = start(dir);
    const c = start(dir);
    await Promise.all([b.ready, c.ready]);
    // Learn the file names once.
    expect(await b.send({ cmd: "acquire" })).toMatchObject({ ok: true });
    const lockName = readdirSync(dir).find((n) => n.endsWith(".lock"))!;
    const lockPath = join(dir, lockName);
    await b.send({ cmd: "release" });

    const ROUNDS = 150;
    let deadA = deadPid();
    let deadB = deadPid();
    const wins = { b: 0, c: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      if (!isDead(deadA)) deadA = deadPid();
      if (!isDead(deadB)) deadB = deadPid();
      const kind = round % 3; // 0: no lock; 1: a dead holder's lock; 2: and a dead claimer's claim on it
      const token = randomBytes(8).toString("hex");
      if (kind >= 1) {
        writeFileSync(
          lockPath,
          JSON.stringify({ pid: deadA, hostname: hostname(), token, startedAt: round, account: ACCOUNT }),
        );
      }
      if (kind === 2) {
        writeFileSync(
          `${lockPath}.takeover-${token}`,
          JSON.stringify({
            pid: deadB,
            hostname: hostname(),
            token: randomBytes(8).toString("hex"),
            startedAt: round,
            account: ACCOUNT,
          }),
        );
      }
      const at = Date.now() + 25;
      const [rb, rc] = await Promise.all([b.send({ cmd: "acquire", at }), c.send({ cmd: "acquire", at })]);
      const winners = [rb, rc].filter((r) => r.ok === true);
      expect(winners, `round ${round}: ${JSON.stringify([rb, rc])}`).toHaveLength(1);
      const [winner, loser, winnerReply] = rb.ok ? [b, c, rb] : [c, b, rc];
      const loserReply = rb.ok ? rc : rb;
      expect(loserReply, `round ${round}`).toMatchObject({ ok: false, code: "journal_locked" });
      expect(JSON.parse(readFileSync(lockPath, "utf8")).pid).toBe(winner.pid);
      if (kind >= 1) {
        expect(winnerReply.warnings).toEqual([expect.objectContaining({ kind: "stale_lock", pid: deadA })]);
      }
      wins[winner === b ? "b" : "c"]++;
      expect(await winner.send({ cmd: "release" })).toMatchObject({ ok: true });
      void loser;
    }
    expect(wins.b + wins.c).toBe(ROUNDS);
    // Nothing left behind: no candidate, no claim, no lock; only the journal.
    expect(readdirSync(dir).filter((n) => !n.endsWith(".jsonl"))).toEqual([]);
  });
});
