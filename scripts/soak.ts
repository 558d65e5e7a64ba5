// npm run soak -- --scenarios 100000 --seed 42
// Runs seeded fault-injection scenarios of SmartRebalancer on the simulated broker and checks
// the invariants after each (see docs/reliability.md). The same seed replays the same
// scenarios; a larger --scenarios extends a run; --path replays one failure found with --seed;
// --scenario '<json>' runs one scenario (a printed shrunk reproduction).

import { parseArgs } from "node:util";
import type { Scenario } from "../test/properties/scenario/scenario.js";
import { checkScenario, formatSuite, runSuite } from "../test/properties/scenario/suite.js";

const { values } = parseArgs({
  options: {
    scenarios: { type: "string", default: "100000" },
    seed: { type: "string", default: "20261125" },
    path: { type: "string" },
    scenario: { type: "string" },
  },
});

if (values.scenario !== undefined) {
  const scenario = JSON.parse(values.scenario) as Scenario;
  const { violations, covered } = await checkScenario(scenario);
  console.log(`covered: ${covered.join(" ") || "nothing"}`);
  for (const v of violations) console.log(`invariant ${v.invariant}: ${v.message}`);
  console.log(`violations: ${violations.length}`);
  process.exit(violations.length === 0 ? 0 : 1);
}

const numRuns = Number(values.scenarios);
const seed = Number(values.seed);
if (!Number.isSafeInteger(numRuns) || numRuns < 1 || !Number.isSafeInteger(seed)) {
  console.error("usage: npm run soak -- --scenarios N --seed S [--path P] [--scenario JSON]");
  process.exit(2);
}
console.log(`soak: ${numRuns} scenarios from seed ${seed}${values.path ? `, path ${values.path}` : ""}`);
const result = await runSuite({
  numRuns,
  seed,
  ...(values.path !== undefined ? { path: values.path } : {}),
  every: 10_000,
  progress: (n) => console.log(`  ${n} scenarios…`),
});
console.log(formatSuite(result));
process.exit(result.violations === 0 ? 0 : 1);
