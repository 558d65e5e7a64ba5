// A process that rebalances accounts of the fake Alpaca server through createAlpacaBroker,
// each with a file journal of its own, for the kill test (test/kill/kill.test.ts). It loads
// everything, says `ready`, and waits: the parent keeps one ready ahead, so a kill costs no
// start-up. On `go` it works on every account at once (each starting after its own delay):
// `runs` rebalances each (resuming an unfinished run first, half the time, when the journal
// has one), sending each report; then it exits, or the parent kills it with SIGKILL at a
// random moment, which cuts each account's work at a different point.

import { fileJournal, type RebalanceReport, reportToJSON, SmartRebalancer } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";

/** What the parent sends to start the work: the accounts, and how many runs each. */
export interface Go {
  readonly accounts: readonly AccountGo[];
  readonly runs: number;
}

/** One account's work. */
export interface AccountGo {
  readonly baseUrl: string;
  readonly dataBaseUrl: string;
  readonly streamUrl: string;
  readonly keyId: string;
  readonly secret: string;
  readonly dir: string;
  readonly account: string;
  readonly targets: { weights: Record<string, number> };
  readonly seed: number;
  /** Waits this long before starting (ms), so the accounts are at different points. */
  readonly delayMs: number;
}

/** What the child says. */
export type ChildMessage =
  | { readonly type: "ready" }
  | { readonly type: "started"; readonly k: number }
  | {
      readonly type: "run";
      readonly k: number;
      readonly how: "resume" | "rebalance";
      readonly unfinished: number;
    }
  | {
      readonly type: "report";
      readonly k: number;
      readonly how: "resume" | "rebalance";
      readonly report: ReturnType<typeof reportToJSON>;
    }
  | { readonly type: "failed"; readonly k: number; readonly error: string }
  | { readonly type: "done"; readonly k: number };

const say = (m: ChildMessage) => new Promise<void>((resolve) => process.send?.(m, () => resolve()));

async function work(go: AccountGo, k: number, runs: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, go.delayMs));
  const broker = createAlpacaBroker({
    keyId: go.keyId,
    secret: go.secret,
    baseUrl: go.baseUrl,
    dataBaseUrl: go.dataBaseUrl,
    streamUrl: go.streamUrl,
    rateLimitPerMinute: 100_000,
    timeoutMs: 2_000,
  });
  // The real thing: every send is fdatasynced before the request leaves.
  const journal = fileJournal(go.dir);
  const rebalancer = new SmartRebalancer({
    broker,
    journal,
    account: go.account,
    seed: go.seed,
    finalTimeoutMs: 5_000,
    streamWaitMs: 500,
    journalLookupMs: 400,
    lateFillWindowMs: 50,
    settleMs: 300,
    settleTimeoutMs: 2_000,
    settlePollMs: 25,
    tracker: { quietAfterMs: 250, pollIntervalMs: 100 },
  });
  await say({ type: "started", k });
  for (let i = 0; i < runs; i++) {
    const unfinished = await rebalancer.unfinishedRuns();
    const last = unfinished.at(-1);
    // Half the time the explicit resume, else a fresh run that supersedes what is unfinished.
    const how = last !== undefined && (go.seed + i) % 2 === 0 ? "resume" : "rebalance";
    await say({ type: "run", k, how, unfinished: unfinished.length });
    const report: RebalanceReport =
      how === "resume" && last !== undefined
        ? await rebalancer.resume(last.runId)
        : await rebalancer.rebalance(go.targets);
    await say({ type: "report", k, how, report: reportToJSON(report) });
  }
  await journal.close();
  await say({ type: "done", k });
}

process.once("message", (go: Go) => {
  const all = go.accounts.map((a, k) =>
    work(a, k, go.runs).catch((e: unknown) => say({ type: "failed", k, error: String(e) })),
  );
  void Promise.all(all).then(() => process.exit(0));
});
void say({ type: "ready" });
