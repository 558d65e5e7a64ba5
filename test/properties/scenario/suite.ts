// Runs many scenarios with fast-check (seeded; a failure is shrunk to a minimal scenario),
// checks the invariants after each, and counts what the scenarios covered. Shared by the CI
// test (10,000 scenarios) and the soak script (100,000).

import fc from "fast-check";
import { SIM_FAULT_KINDS } from "ordersafe/testing";
import { checkInvariants, injected, isStanding, type Violation } from "./invariants.js";
import { runScenario } from "./run-scenario.js";
import { type CoverageKind, type Scenario, scenarioArb } from "./scenario.js";

/** What a suite run found. */
export interface SuiteResult {
  /** Scenarios run (shrinking runs not counted). */
  scenarios: number;
  /** Scenarios with at least one violation (0, or 1 when fast-check stopped at the first). */
  violations: number;
  /** Real time in ms. */
  ms: number;
  /** Scenarios in which each fault kind was actually applied (from the broker's event log). */
  coverage: Record<string, number>;
  /** The seed fast-check ran with. */
  seed: number;
  /** On failure: the replay path, the shrunk scenario and its violations. */
  failure?: { path: string; scenario: Scenario; violations: Violation[] };
}

/** Options of {@link runSuite}. */
export interface SuiteOptions {
  numRuns: number;
  seed: number;
  /** A fast-check replay path (from a failure report). */
  path?: string;
  /** Called every `every` scenarios. */
  progress?: (done: number) => void;
  every?: number;
}

/**
 * The kinds whose coverage is reported (the broker's faults and the scenario-level ones). A
 * rebalance sends market orders and never replaces one, so `fill_before_replace` (a fill
 * racing a replace) cannot occur here; the execution-policy properties cover it.
 */
export const COVERAGE_KINDS: readonly CoverageKind[] = [
  ...SIM_FAULT_KINDS.filter((k) => k !== "fill_before_replace"),
  "lagging_reads",
  "outside_trade",
  "crash",
  "market_closed",
  "partial_fills",
  "conflict_cancel",
  "polling",
];

/**
 * Runs one scenario and checks it.
 *
 * @param s - the scenario
 * @returns its violations and the kinds it covered
 */
export async function checkScenario(s: Scenario): Promise<{ violations: Violation[]; covered: string[] }> {
  const run = await runScenario(s);
  const violations = checkInvariants(run);
  const inj = injected(run);
  const covered = [...inj.kinds];
  if (inj.outsideBuy.size + inj.outsideSell.size > 0) covered.push("outside_trade");
  if (inj.crashed) covered.push("crash");
  if (inj.marketEverClosed) covered.push("market_closed");
  if (run.log.some((e) => e.type === "update" && e.event === "partial_fill")) covered.push("partial_fills");
  const standing = new Set(run.afterIdle.orders.filter(isStanding).map((o) => o.id));
  if (
    run.log.some(
      (e) => e.type === "update" && e.event === "pending_cancel" && standing.has(String(e.orderId)),
    )
  ) {
    covered.push("conflict_cancel");
  }
  if (s.rebalancer.polling) covered.push("polling");
  if (s.readLag) covered.push("lagging_reads");
  return { violations, covered };
}

/**
 * Runs `numRuns` scenarios from `seed` (or replays `path`), stopping at the first violation
 * and shrinking it.
 *
 * @param options - count, seed, replay path, progress callback
 * @returns counts, time, coverage and the shrunk failure if any
 */
export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const coverage: Record<string, number> = Object.fromEntries(COVERAGE_KINDS.map((k) => [k, 0]));
  let done = 0;
  let failing = false;
  let lastViolations: Violation[] = [];
  const started = performance.now();
  const details = await fc.check(
    fc.asyncProperty(scenarioArb, async (s) => {
      const { violations, covered } = await checkScenario(s);
      if (!failing) {
        done += 1;
        for (const k of covered) coverage[k] = (coverage[k] ?? 0) + 1;
        if (options.progress && options.every && done % options.every === 0) options.progress(done);
      }
      if (violations.length > 0) {
        failing = true;
        lastViolations = violations;
        return false;
      }
      return true;
    }),
    {
      numRuns: options.numRuns,
      seed: options.seed,
      ...(options.path !== undefined ? { path: options.path } : {}),
    },
  );
  const ms = performance.now() - started;
  const result: SuiteResult = {
    scenarios: done,
    violations: details.failed ? 1 : 0,
    ms,
    coverage,
    seed: details.seed,
  };
  if (details.failed && details.counterexample !== null) {
    const scenario = details.counterexample[0] as Scenario;
    // Re-run the shrunk scenario for its own violations (the last ones seen may be another's).
    lastViolations = (await checkScenario(scenario)).violations;
    result.failure = { path: details.counterexamplePath ?? "", scenario, violations: lastViolations };
  } else if (details.failed) {
    // The property threw (a bug in the harness itself): surface it.
    throw details.errorInstance ?? new Error("the scenario property failed without a counterexample");
  }
  return result;
}

/**
 * Formats a suite result: the count line, per-fault coverage and any failure with its seed,
 * replay command and shrunk scenario.
 *
 * @param r - the result
 * @returns printable lines
 */
export function formatSuite(r: SuiteResult): string {
  const secs = r.ms / 1000;
  const lines = [
    `scenarios: ${r.scenarios}, violations: ${r.violations}, time: ${secs.toFixed(1)} s, scenarios/s: ${(r.scenarios / secs).toFixed(0)}, seed: ${r.seed}`,
    `coverage (scenarios in which it happened): ${Object.entries(r.coverage)
      .map(([k, n]) => `${k}=${n}`)
      .join(" ")}`,
  ];
  if (r.failure !== undefined) {
    lines.push(
      `FAILED: seed ${r.seed}, path "${r.failure.path}" (replay: npm run soak -- --seed ${r.seed} --path "${r.failure.path}")`,
      ...r.failure.violations.map((x) => `  invariant ${x.invariant}: ${x.message}`),
      `shrunk reproduction:\n${JSON.stringify(r.failure.scenario)}`,
    );
  }
  return lines.join("\n");
}
