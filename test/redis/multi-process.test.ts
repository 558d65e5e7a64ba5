import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { type Decimal, isFinalBrokerStatus, toDecimal } from "ordersafe";
import { createRedisCoordination } from "ordersafe/redis";
import { type FakeAlpacaServer, startFakeAlpacaServer } from "ordersafe/testing";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "./redis-server.js";

// 4 bot processes (2 strategies, sleeve scope) on one account served over HTTP by the fake
// Alpaca server, coordinated through a real redis-server: racing rebalances and ledger
// reserves, then a lease holder killed with SIGKILL mid-run.

const CHILD = join(__dirname, "multi-process-child.ts");
const ROOT = join(__dirname, "..", "..");
// Per process: 4 × 125 = 500 randomized rounds, about 45 s here (MP_DEBUG=1 prints each run's phases).
const ROUNDS = Number(process.env.MP_ROUNDS ?? 125);

interface RunReport {
  runId: string;
  status: string;
  orders: {
    coid: string;
    symbol: string;
    side: string;
    state: string;
    filled: string;
    adopted: boolean;
    errorCode: string | null;
  }[];
  working: number;
  bpRejections: number;
}
interface Reply {
  ready?: boolean;
  submitted?: boolean;
  ok?: boolean;
  code?: string;
  message?: string;
  runs?: RunReport[];
  reserves?: { ok: boolean; total: number }[];
}

class Bot {
  readonly proc: ChildProcess;
  private readonly waiting: ((m: Reply) => void)[] = [];
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  onSubmitted: (() => void) | undefined;

  constructor(args: string[]) {
    this.proc = fork(CHILD, args, {
      cwd: ROOT,
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.exited = new Promise((resolve) => this.proc.once("exit", () => resolve()));
    this.ready = new Promise((resolve) => {
      this.proc.on("message", (m: Reply) => {
        if (m.ready) resolve();
        else if (m.submitted) this.onSubmitted?.();
        else this.waiting.shift()?.(m);
      });
    });
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

let redis: TestRedis;
let server: FakeAlpacaServer;
const bots: Bot[] = [];

beforeAll(async () => {
  redis = await startRedis();
  server = await startFakeAlpacaServer({
    keyId: "PKTESTKEY0123456789AB",
    secret: "s3cr3t-Secret-Value-0123456789abcdefghij",
    cash: 100_000,
    positions: { ZZZ: 7 }, // nobody's strategy: never touched
    prices: { AAA: 10, BBB: 20, CCC: 50, ZZZ: 5 },
  });
  for (const [i, strategy] of ["alpha", "beta", "alpha", "beta"].entries()) {
    bots.push(
      new Bot([redis.socket, server.baseUrl, server.dataBaseUrl, server.streamUrl, strategy, `p${i}`]),
    );
  }
  await Promise.all(bots.map((b) => b.ready));
}, 120_000);

afterAll(async () => {
  await Promise.all(bots.map((b) => b.stop()));
  await server?.close();
  await redis?.stop();
});

/** Net filled shares per strategy and symbol over the broker's whole order history, in order. */
function sleevesNeverNegative(): boolean {
  const net = new Map<string, Decimal>();
  const orders = [...server.broker.orders()].sort(
    (a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0),
  );
  for (const o of orders) {
    const m = /^os-([A-Za-z0-9]+)_/.exec(o.clientOrderId);
    if (m === null) return false; // only the bots trade here
    const key = `${m[1]}:${o.symbol}`;
    const next = (net.get(key) ?? toDecimal(0)).plus(o.side === "buy" ? o.filledQty : o.filledQty.neg());
    if (next.lt(0)) return false;
    net.set(key, next);
  }
  return true;
}

describe("four processes, two strategies, one account, one Redis", () => {
  it("race rebalances and reserves; then a lease holder dies and another finishes its run", async () => {
    const started = Date.now();
    const replies = await Promise.all(bots.map((b) => b.send({ cmd: "rounds", rounds: ROUNDS })));
    for (const r of replies) expect(r, r.message).toMatchObject({ ok: true });
    const runs = replies.flatMap((r) => r.runs ?? []);
    const reserves = replies.flatMap((r) => r.reserves ?? []);
    expect(runs.length + reserves.length).toBe(4 * ROUNDS);

    // The ledger race: the holds never passed the capacity, whoever reserved.
    expect(reserves.every((r) => r.total <= 1_000_000)).toBe(true);
    expect(reserves.some((r) => r.ok)).toBe(true);
    // Buying power never over-reserved: no buy refused for it, by the ledger's broker or the broker.
    expect(runs.every((r) => r.bpRejections === 0)).toBe(true);
    expect(runs.flatMap((r) => r.orders).every((o) => o.errorCode !== "insufficient_buying_power")).toBe(
      true,
    );
    expect(server.broker.truth().cash.gte(0)).toBe(true);
    // No intent placed twice: within a run, one order per (symbol, side); ids never reused.
    const coids = server.broker.orders().map((o) => o.clientOrderId);
    expect(new Set(coids).size).toBe(coids.length);
    for (const r of runs) {
      const legs = r.orders.filter((o) => !o.adopted).map((o) => `${o.symbol}:${o.side}`);
      expect(new Set(legs).size).toBe(legs.length);
    }
    // No strategy sold another's holdings; ZZZ, nobody's, untouched; nothing cancelled.
    expect(sleevesNeverNegative()).toBe(true);
    expect(server.broker.truth().positions.get("ZZZ")?.toFixed()).toBe("7");
    expect(server.broker.orders().filter((o) => o.status === "canceled")).toEqual([]);
    // Every order final.
    expect(server.broker.orders().every((o) => isFinalBrokerStatus(o.status))).toBe(true);
    expect(runs.every((r) => r.working === 0)).toBe(true);

    // Kill the lease holder once an order of its run is at the broker.
    const victim = bots[0]!;
    const killed = new Promise<void>((resolve) => {
      victim.onSubmitted = () => {
        victim.proc.kill("SIGKILL");
        resolve();
      };
    });
    const ended = victim.send({ cmd: "run", runId: "doomed" }).then((r) => {
      throw new Error(`the run ended before any order reached the broker: ${JSON.stringify(r)}`);
    });
    await Promise.race([killed, ended]);
    ended.catch(() => undefined);
    await victim.exited;
    const before = server.broker.orders().length;
    // Another process (the other strategy) takes the lease once it lapses and takes the run over.
    const next = await bots[1]!.send({ cmd: "run", runId: "after" });
    expect(next, next.message).toMatchObject({ ok: true });
    const after = next.runs![0]!;
    const doomed = server.broker
      .orders()
      .slice(0, before)
      .filter((o) => o.clientOrderId.startsWith("os-alpha_doomed"));
    expect(doomed.length).toBeGreaterThan(0);
    const adopted = after.orders.filter((o) => o.adopted).map((o) => o.coid);
    for (const o of doomed) expect(adopted).toContain(o.clientOrderId);
    // Nothing placed twice: the dead run's legs are each at the broker once.
    const doomedLegs = server.broker.orders().filter((o) => o.clientOrderId.startsWith("os-alpha_doomed"));
    expect(new Set(doomedLegs.map((o) => `${o.symbol}:${o.side}`)).size).toBe(doomedLegs.length);
    expect(server.broker.orders().every((o) => isFinalBrokerStatus(o.status))).toBe(true);
    // The shared journal holds no open run any more.
    const client = createClient({ socket: { path: redis.socket, tls: false } });
    await client.connect();
    try {
      const journal = createRedisCoordination({ client, account: "PA-MULTI" }).journal;
      // Every process is done and the never-placed window has passed since the kill: a send the
      // killed process journaled and never made is settled as never placed, so no run is open.
      expect((await journal.openRuns("PA-MULTI")).runs).toEqual([]);
    } finally {
      await client.quit();
    }
    expect(sleevesNeverNegative()).toBe(true);
    console.log(
      `multi-process: ${runs.length} rebalances, ${reserves.length} ledger races (${reserves.filter((r) => r.ok).length} reserved), ` +
        `${server.broker.orders().length} orders, ${doomed.length} of the killed run adopted, ${Date.now() - started} ms`,
    );
  }, 300_000);
});
