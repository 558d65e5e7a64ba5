// Crash safety with real processes. The fake Alpaca server runs here, over real HTTP on
// 127.0.0.1; a child process (test/kill/kill-child.ts) rebalances its account through
// createAlpacaBroker with a fileJournal in a temporary directory, and is killed with SIGKILL
// at a random (seeded) moment, then another is started, which resumes. Each scenario draws
// its holdings, targets and faults; after its kills one last child runs to the end.
//
// Checked: the journal opens after every kill (a torn last line is tolerated and counted);
// no intent placed twice (no two orders on one symbol and side live at once, no symbol both
// bought and sold, no more bought or sold than the targets call for); no order lost (every
// order the server holds is in a report or in the journal); every order final at the end, or
// reported `unresolved`.
//
// ORDERSAFE_KILLS (default 200) kills in all. One child works on ORDERSAFE_KILL_ACCOUNTS
// (default 5) accounts at once, each its own scenario, server and journal, each started after
// its own random delay: one SIGKILL cuts every account's work at a different point, and counts
// as a kill of each account whose work had started and not finished. ORDERSAFE_KILL_GROUPS
// (default 2) such groups run at once; ORDERSAFE_KILL_SEED picks the draws. Start-up is kept
// off the clock: the child is bundled once with esbuild (tsx would spend seconds per process
// on a busy machine), and the next child loads while the current one works.

import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { Decimal, fileJournal, isFinalBrokerStatus, type RebalanceReportJSON } from "ordersafe";
import { type FakeAlpacaServer, type SimFaultOptions, startFakeAlpacaServer } from "ordersafe/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChildMessage, Go } from "./kill-child.js";

const KILLS = Number(process.env.ORDERSAFE_KILLS ?? 200);
/** Accounts (scenarios) one child works on at once: one SIGKILL cuts each at its own point. */
const ACCOUNTS = Number(process.env.ORDERSAFE_KILL_ACCOUNTS ?? 5);
const GROUPS_AT_ONCE = Number(process.env.ORDERSAFE_KILL_GROUPS ?? 2);
const SEED = Number(process.env.ORDERSAFE_KILL_SEED ?? 20261202);
const KILLS_PER_ACCOUNT = 4;
const KEY = "PKKILLTEST0123456789";
const SECRET = "kill-test-secret-0123456789abcdefghijkl";
const ACCOUNT = "PA-KILL";
const ROOT = join(__dirname, "..", "..");

/** mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Scenario {
  readonly seed: number;
  readonly cash: number;
  readonly prices: Record<string, number>;
  readonly positions: Record<string, number>;
  readonly wholeShares: readonly string[];
  readonly targets: { weights: Record<string, number> };
  readonly faults: SimFaultOptions;
  readonly partialFills: boolean;
  readonly fillMs: number;
  /** The kill comes after a random number of requests below this, then a random 0–4 ms. */
  readonly killWithin: number;
}

const SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE"];

function drawScenario(seed: number): Scenario {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const symbols = SYMBOLS.filter(() => r() < 0.8);
  if (symbols.length < 2) symbols.push("AAA", "BBB");
  const prices: Record<string, number> = {};
  const positions: Record<string, number> = {};
  const weights: Record<string, number> = {};
  let left = 0.95;
  for (const s of new Set(symbols)) {
    prices[s] = pick([7.5, 12, 33.05, 48.2, 101]);
    if (r() < 0.7) positions[s] = pick([10, 25, 40, 120]);
    // Some symbols are sold out (weight 0), the others share at most 95% of equity.
    const w = r() < 0.25 ? 0 : Math.min(left, Math.round(r() * 40) / 100);
    weights[s] = w;
    left -= w;
  }
  const faults = pick<SimFaultOptions>([
    {},
    { ambiguous: { probability: 0.15, method: "submitOrder" } },
    { unavailable: 0.03, not_found_lag: { probability: 0.3, ms: 150 } },
    { latency_spike: { probability: 0.1, ms: 120 }, stream_drop: 0.1 },
    { ambiguous: { probability: 0.1, method: "submitOrder" }, not_found_lag: { probability: 0.5, ms: 300 } },
  ]);
  return {
    seed,
    cash: pick([500, 2_500, 10_000]),
    prices,
    positions,
    wholeShares: Object.keys(prices).filter(() => r() < 0.3),
    targets: { weights },
    faults,
    partialFills: r() < 0.4,
    fillMs: pick([2, 10, 40]),
    killWithin: pick([6, 12, 24]),
  };
}

/** A child process: loaded and waiting for `go`. */
class Child {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  readonly messages: ChildMessage[] = [];
  private onMessage: ((m: ChildMessage) => void) | undefined;

  constructor(script: string) {
    // A plain node: not the test runner's flags.
    this.proc = fork(script, [], { cwd: ROOT, execArgv: [], stdio: ["ignore", "ignore", "inherit", "ipc"] });
    this.exited = new Promise((resolve) => this.proc.once("exit", (code) => resolve(code)));
    this.ready = new Promise((resolve, reject) => {
      this.proc.on("message", (m: ChildMessage) => {
        if (m.type === "ready") resolve();
        else this.messages.push(m);
        this.onMessage?.(m);
      });
      this.proc.once("exit", () => reject(new Error("the child exited before it was ready")));
    });
    this.ready.catch(() => undefined);
  }

  /** Resolves at the first message of that type (or when the child exits). */
  next(type: ChildMessage["type"]): Promise<void> {
    if (this.messages.some((m) => m.type === type)) return Promise.resolve();
    return Promise.race([
      new Promise<void>((resolve) => {
        this.onMessage = (m) => {
          if (m.type === type) resolve();
        };
      }),
      this.exited.then(() => undefined),
    ]);
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async kill(): Promise<void> {
    if (this.alive) this.proc.kill("SIGKILL");
    await this.exited;
  }
}

/** What the parent learns of one scenario. */
interface Lane {
  kills: number;
  tornTails: number;
  journalReads: number;
  reports: RebalanceReportJSON[];
  /** Client order ids and order ids the journal file showed, after each kill and at the end. */
  journaled: Set<string>;
  childFailures: string[];
  finalReport: RebalanceReportJSON | undefined;
  ordersChecked: number;
}

const totals = {
  kills: 0,
  tornTails: 0,
  journalReads: 0,
  orders: 0,
  scenarios: 0,
  reports: 0,
  resumes: 0,
  takeOvers: 0,
  processKills: 0,
};
let script = "";
let buildDir = "";
const started = Date.now();

beforeAll(async () => {
  // Everything is in the bundle, so it can sit outside the repository.
  buildDir = mkdtempSync(join(tmpdir(), "ordersafe-kill-child-"));
  script = join(buildDir, "kill-child.mjs");
  await build({
    entryPoints: [join(__dirname, "kill-child.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Everything in one file: a child spends its start-up parsing, not resolving modules.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    alias: {
      "ordersafe/alpaca": join(ROOT, "src", "alpaca", "index.ts"),
      ordersafe: join(ROOT, "src", "index.ts"),
    },
    outfile: script,
    logLevel: "error",
  });
}, 120_000);

afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

/** Opens the journal as the next process would: it must read, whatever the kill cut. */
async function readJournal(dir: string, lane: Lane): Promise<void> {
  const journal = fileJournal(dir, { fsync: false });
  try {
    const { warnings } = await journal.openRuns(ACCOUNT);
    lane.journalReads++;
    lane.tornTails += warnings.filter((w) => w.kind === "torn_tail").length;
  } finally {
    await journal.close();
  }
  // Every send and answer in the file (finished runs included): what the journal knows.
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".jsonl"))) {
    for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
      const e = parseLine(line);
      if (e?.type === "send" && e.op === "submit") lane.journaled.add(e.request.clientOrderId);
      if (e?.type === "answer" && e.result === "accepted" && e.order) lane.journaled.add(e.order.id);
      if (e?.type === "final" && e.order) lane.journaled.add(e.order.id);
    }
  }
}

type Line = {
  type: string;
  op?: string;
  result?: string;
  request: { clientOrderId: string };
  order?: { id: string };
};

function parseLine(
  line: string,
): (Line & { order: { id: string } }) | (Line & { order?: undefined }) | undefined {
  if (!line.startsWith('{"entry":')) return undefined;
  try {
    return (JSON.parse(line) as { entry: Line & { order: { id: string } } }).entry;
  } catch {
    return undefined; // a torn last line (the journal's own read has just reported it)
  }
}

/**
 * Waits for the kill's moment: `requests` more HTTP requests at the servers, then `ms`. A
 * moment drawn in requests rather than in time lands inside the work however slow the machine
 * is. Resolves true when the child exited first (it finished its runs).
 */
function killPoint(
  child: Child,
  servers: readonly FakeAlpacaServer[],
  requests: number,
  ms: number,
): Promise<boolean> {
  const count = () => servers.reduce((a, x) => a + x.requests().length, 0);
  const from = count();
  const until = Date.now() + 30_000; // a child that stops talking to the servers is killed all the same
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (count() - from < requests && Date.now() < until) return;
      clearInterval(poll);
      setTimeout(() => resolve(!child.alive), ms);
    }, 1);
    void child.exited.then(() => {
      clearInterval(poll);
      resolve(true);
    });
  });
}

/** One account of a group: its scenario, its server, its journal directory, what was learned. */
interface Account {
  readonly s: Scenario;
  readonly server: FakeAlpacaServer;
  readonly dir: string;
  readonly lane: Lane;
}

/**
 * A group of scenarios, one account each, worked on by one child process at a time: each
 * SIGKILL cuts every account's work at its own point (each counts as a kill of that account
 * when its work had started and not finished).
 */
async function runGroup(
  scenarios: readonly Scenario[],
  lanes: readonly Lane[],
  killsWanted: number,
): Promise<void> {
  const accounts: Account[] = [];
  try {
    for (const [k, s] of scenarios.entries()) {
      const server = await startFakeAlpacaServer({
        keyId: KEY,
        secret: SECRET,
        seed: s.seed,
        cash: s.cash,
        prices: s.prices,
        positions: s.positions,
        assets: Object.fromEntries(s.wholeShares.map((sym) => [sym, { fractionable: false }])),
        latency: { restMs: 1, fillMs: s.fillMs, streamMs: 1 },
        partialFills: s.partialFills ? { probability: 0.5, parts: 2 } : false,
        faults: s.faults,
      });
      accounts.push({
        s,
        server,
        dir: mkdtempSync(join(tmpdir(), "ordersafe-kill-")),
        lane: lanes[k] as Lane,
      });
    }
    await killAndRestart(accounts, killsWanted);
    // One last child runs every account to the end: it takes over whatever the kills left.
    const last = new Child(script);
    await last.ready;
    last.proc.send(goFor(accounts, 2, 99, () => 0));
    await last.exited;
    collect(last, accounts);
    for (const a of accounts) {
      a.lane.finalReport = a.lane.reports.at(-1);
      await readJournal(a.dir, a.lane);
      checkInvariants(a.s, a.server, a.lane);
      if (process.env.ORDERSAFE_KILL_VERBOSE) {
        console.log(
          `seed ${a.s.seed}: ${a.lane.kills} kills, ${a.server.broker.orders().length} orders, ` +
            `${a.lane.reports.length} reports, ${a.lane.tornTails} torn`,
        );
      }
    }
  } finally {
    for (const a of accounts) {
      rmSync(a.dir, { recursive: true, force: true });
      await a.server.close();
    }
  }
}

function goFor(accounts: readonly Account[], runs: number, life: number, delay: () => number): Go {
  return {
    runs,
    accounts: accounts.map((a) => ({
      baseUrl: a.server.baseUrl,
      dataBaseUrl: a.server.dataBaseUrl,
      streamUrl: a.server.streamUrl,
      keyId: KEY,
      secret: SECRET,
      dir: a.dir,
      account: ACCOUNT,
      targets: a.s.targets,
      seed: a.s.seed + life,
      delayMs: delay(),
    })),
  };
}

/** What a child said, into each account's lane. */
function collect(c: Child, accounts: readonly Account[]): void {
  for (const m of c.messages) {
    const lane = "k" in m ? accounts[m.k]?.lane : undefined;
    if (lane === undefined) continue;
    if (m.type === "report") lane.reports.push(m.report);
    if (m.type === "failed") lane.childFailures.push(m.error);
    if (m.type === "run" && m.how === "resume") totals.resumes++;
    if (m.type === "run" && m.unfinished > 0) totals.takeOvers++;
  }
}

/** Kills children at random moments until every account of the group has had its share of kills. */
async function killAndRestart(accounts: readonly Account[], killsWanted: number): Promise<void> {
  const r = rng((accounts[0]?.s.seed ?? 0) ^ 0x5bd1e995);
  const servers = accounts.map((a) => a.server);
  const killWithin = Math.max(...accounts.map((a) => a.s.killWithin)) * accounts.length;
  let next = new Child(script);
  let kills = 0;
  for (let life = 0; kills < killsWanted; life++) {
    const child = next;
    await child.ready;
    next = new Child(script); // loads while this one works
    child.proc.send(goFor(accounts, 50, life, () => Math.floor(r() * 300)));
    const ended = await killPoint(child, servers, Math.floor(r() * killWithin), r() * 4);
    if (!ended) {
      await child.kill();
      totals.processKills++;
      // An account whose work had started and not finished was killed in the middle of it.
      for (const [k, a] of accounts.entries()) {
        const started = child.messages.some((m) => m.type === "started" && m.k === k);
        const done = child.messages.some((m) => m.type === "done" && m.k === k);
        if (started && !done) {
          a.lane.kills++;
          kills++;
        }
      }
    }
    collect(child, accounts);
    for (const a of accounts) await readJournal(a.dir, a.lane);
  }
  await next.kill();
}

function checkInvariants(s: Scenario, server: FakeAlpacaServer, lane: Lane): void {
  const ctx = `scenario seed ${s.seed}`;
  expect(lane.childFailures, ctx).toEqual([]);
  const orders = server.broker.orders();
  lane.ordersChecked += orders.length;
  // Client order ids are unique.
  expect(new Set(orders.map((o) => o.clientOrderId)).size, ctx).toBe(orders.length);
  // No order lost: each is in a report or the journal.
  const reported = new Set<string>();
  for (const rep of lane.reports) {
    for (const o of rep.orders) {
      reported.add(o.clientOrderId);
      if (o.orderId) reported.add(o.orderId);
    }
    for (const w of rep.working) reported.add(w.clientOrderId);
  }
  for (const o of orders) {
    const known = reported.has(o.clientOrderId) || reported.has(o.id) || lane.journaled.has(o.clientOrderId);
    expect(
      known,
      `${ctx}: ${o.clientOrderId} (${o.symbol} ${o.side} ${o.status}) is in no report and not in the journal`,
    ).toBe(true);
  }
  // Every order final, or reported unresolved by the last run.
  const unresolved = new Set(
    (lane.finalReport?.orders ?? []).filter((o) => o.state === "unresolved").map((o) => o.clientOrderId),
  );
  for (const o of orders) {
    const settled = isFinalBrokerStatus(o.status) || unresolved.has(o.clientOrderId);
    expect(settled, `${ctx}: ${o.clientOrderId} is ${o.status} and not reported unresolved`).toBe(true);
  }
  checkNoIntentTwice(s, server, ctx);
}

/** No two orders on one (symbol, side) live at once; no symbol both ways; within the targets' bounds. */
function checkNoIntentTwice(s: Scenario, server: FakeAlpacaServer, ctx: string): void {
  const log = server.broker.eventLog();
  const live = new Map<string, { key: string; from: number; to: number }>();
  for (const e of log) {
    if (e.type === "submit") {
      live.set(String(e.orderId), { key: `${e.symbol} ${e.side}`, from: e.at, to: Number.POSITIVE_INFINITY });
    } else if (e.type === "update" && isFinalBrokerStatus(String(e.status) as never)) {
      const l = live.get(String(e.orderId));
      if (l && l.to === Number.POSITIVE_INFINITY) l.to = e.at;
    }
  }
  const byKey = new Map<string, { from: number; to: number }[]>();
  for (const l of live.values()) byKey.set(l.key, [...(byKey.get(l.key) ?? []), l]);
  for (const [key, spans] of byKey) {
    spans.sort((a, b) => a.from - b.from);
    for (let i = 1; i < spans.length; i++) {
      expect(spans[i]!.from >= spans[i - 1]!.to, `${ctx}: two ${key} orders live at once`).toBe(true);
    }
  }
  const equity = Object.entries(s.prices).reduce((a, [sym, p]) => a + p * (s.positions[sym] ?? 0), s.cash);
  for (const [sym, price] of Object.entries(s.prices)) {
    const filled = (side: "buy" | "sell") =>
      server.broker
        .orders()
        .filter((o) => o.symbol === sym && o.side === side)
        .reduce((a, o) => a.plus(o.filledQty), new Decimal(0))
        .toNumber();
    const bought = filled("buy");
    const sold = filled("sell");
    expect(bought > 0 && sold > 0, `${ctx}: ${sym} both bought (${bought}) and sold (${sold})`).toBe(false);
    const held = s.positions[sym] ?? 0;
    const target = ((s.targets.weights[sym] ?? 0) * equity) / price;
    const slack = (0.01 * equity) / price + 1;
    expect(
      bought,
      `${ctx}: ${sym} bought ${bought} for a target of ${target} from ${held}`,
    ).toBeLessThanOrEqual(Math.max(0, target - held) + slack);
    expect(sold, `${ctx}: ${sym} sold ${sold} of ${held}`).toBeLessThanOrEqual(held);
    expect(sold, `${ctx}: ${sym} sold ${sold} for a target of ${target} from ${held}`).toBeLessThanOrEqual(
      Math.max(0, held - target) + slack,
    );
  }
}

describe("SIGKILL at random moments, restart, resume", () => {
  it(`${KILLS} kills over varied targets and faults: nothing placed twice, nothing lost, every order settled`, async () => {
    // Groups of ACCOUNTS scenarios, GROUPS_AT_ONCE groups at a time.
    const groups = Math.ceil(KILLS / (ACCOUNTS * KILLS_PER_ACCOUNT));
    let drawn = 0;
    const workers = Array.from({ length: Math.min(GROUPS_AT_ONCE, groups) }, async () => {
      while (drawn < groups) {
        const g = drawn++;
        const scenarios = Array.from({ length: ACCOUNTS }, (_, k) => drawScenario(SEED + g * ACCOUNTS + k));
        const lanes = scenarios.map(newLane);
        await runGroup(scenarios, lanes, ACCOUNTS * KILLS_PER_ACCOUNT);
        for (const lane of lanes) {
          totals.kills += lane.kills;
          totals.tornTails += lane.tornTails;
          totals.journalReads += lane.journalReads;
          totals.orders += lane.ordersChecked;
          totals.reports += lane.reports.length;
          totals.scenarios++;
        }
      }
    });
    await Promise.all(workers);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `kill test: ${totals.kills} kills (${totals.processKills} processes killed) over ${totals.scenarios} scenarios, ` +
        `${totals.journalReads} journal reads (${totals.tornTails} torn last lines), ` +
        `${totals.takeOvers} runs started on unfinished runs (${totals.resumes} by resume(runId)), ` +
        `${totals.reports} reports, ${totals.orders} orders checked, ${seconds} s, seed ${SEED}`,
    );
    expect(totals.kills).toBeGreaterThanOrEqual(KILLS);
  }, 1_800_000);
});

function newLane(): Lane {
  return {
    kills: 0,
    tornTails: 0,
    journalReads: 0,
    reports: [],
    journaled: new Set(),
    childFailures: [],
    finalReport: undefined,
    ordersChecked: 0,
  };
}
