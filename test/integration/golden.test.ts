// Golden outputs of seeded simulator scenarios: for each scenario in golden/scenarios.json, the
// report JSON of every run, the sequence of the rebalancer's events (phases, plans, orders) and
// the broker's event log must stay byte-identical. A refactor changes none of them; a change of
// behaviour re-records them in its own commit, saying why:
//   UPDATE_GOLDEN=1 npx vitest run test/integration/golden.test.ts

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { reportToJSON, type SmartRebalancer } from "ordersafe";
import { describe, expect, it } from "vitest";
import { runScenario } from "../properties/scenario/run-scenario.js";
import { type Scenario, scenarioArb } from "../properties/scenario/scenario.js";

const dir = fileURLToPath(new URL("./golden/", import.meta.url));
const scenariosFile = `${dir}scenarios.json`;
const update = process.env.UPDATE_GOLDEN === "1";
const COUNT = 60;
const GENERATOR_SEED = 21;

function loadScenarios(): Scenario[] {
  if (!existsSync(scenariosFile)) {
    if (!update) throw new Error("golden/scenarios.json is missing: record with UPDATE_GOLDEN=1");
    mkdirSync(dir, { recursive: true });
    const sampled = fc.sample(scenarioArb, { seed: GENERATOR_SEED, numRuns: COUNT });
    writeFileSync(scenariosFile, `[\n${sampled.map((s) => JSON.stringify(s)).join(",\n")}\n]\n`);
  }
  return JSON.parse(readFileSync(scenariosFile, "utf8")) as Scenario[];
}

/** One line per event the rebalancers emitted (times are rebased to the scenario's start later). */
function watch(lines: string[]) {
  return (r: SmartRebalancer) => {
    r.on("phase", (e) => lines.push(`phase ${e.phase} @${e.at}`));
    r.on("plan", (e) => lines.push(`plan ${e.stage} legs=${e.plan.legs.length}`));
    r.on("order:sending", (e) => lines.push(`sending ${e.request.clientOrderId} #${e.attempt}`));
    r.on("order:submitted", (e) =>
      lines.push(`submitted ${e.order.clientOrderId} #${e.attempt} ${e.order.status}`),
    );
    r.on("order:final", (e) =>
      lines.push(`final ${e.outcome.clientOrderId} ${e.outcome.state} ${e.outcome.filledQty.toFixed()}`),
    );
    r.on("drift", (e) => lines.push(`drift ${e.drifts.map((d) => `${d.symbol}:${d.class}`).join(",")}`));
    r.on("halted", (e) => lines.push(`halted ${e.consecutiveFailures}`));
    r.on("done", (e) => lines.push(`done ${e.report.status}`));
  };
}

async function record(s: Scenario): Promise<string> {
  const events: string[] = [];
  const run = await runScenario(s, watch(events));
  const rebased = events.map((l) => l.replace(/@(\d+)$/, (_, n: string) => `@${Number(n) - run.t0}`));
  const out = {
    thrown: run.thrown === undefined ? null : String(run.thrown),
    reports: run.reports.map(reportToJSON),
    events: rebased,
    log: run.log.map((e) => ({ ...e, at: e.at - run.t0 })),
  };
  // One log entry per line keeps a diff readable.
  return `{\n"thrown": ${JSON.stringify(out.thrown)},\n"reports": ${JSON.stringify(out.reports)},\n"events": ${JSON.stringify(out.events, null, 0)},\n"log": [\n${out.log.map((e) => JSON.stringify(e)).join(",\n")}\n]\n}\n`;
}

const scenarios = loadScenarios();

describe("golden scenario outputs", () => {
  it.each(scenarios.map((s, i) => [i, s] as const))("scenario %i is byte-identical", async (i, s) => {
    const file = `${dir}${String(i).padStart(2, "0")}.json`;
    const text = await record(s);
    if (update) {
      writeFileSync(file, text);
      return;
    }
    expect(existsSync(file), `${file} is missing: record with UPDATE_GOLDEN=1`).toBe(true);
    const expected = readFileSync(file, "utf8");
    if (text !== expected) {
      // Name the first differing line before failing: the whole file is long.
      const a = text.split("\n");
      const b = expected.split("\n");
      const k = a.findIndex((line, n) => line !== b[n]);
      expect({ line: k + 1, got: a[k] }).toEqual({ line: k + 1, got: b[k] });
    }
    expect(text === expected).toBe(true);
  });
});
