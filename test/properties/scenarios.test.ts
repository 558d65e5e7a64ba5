// The reliability suite: 10,000 seeded fault-injection scenarios of SmartRebalancer on the
// simulated broker, each checked against the eight invariants (docs/reliability.md). A
// failure prints its seed, the fast-check replay path and the shrunk scenario; replay it with
// `npm run soak -- --seed S --path P` or `npm run soak -- --scenario '<json>'`.

import { describe, expect, it } from "vitest";
import { COVERAGE_KINDS, formatSuite, runSuite } from "./scenario/suite.js";

const SCENARIOS = 10_000;
const SEED = 20_261_125;

describe("reliability scenarios", () => {
  it(
    `${SCENARIOS} seeded scenarios keep every invariant, and every fault kind is exercised`,
    async () => {
      const result = await runSuite({ numRuns: SCENARIOS, seed: SEED });
      console.log(formatSuite(result));
      expect(result.failure?.violations ?? []).toEqual([]);
      expect(result.violations).toBe(0);
      expect(result.scenarios).toBe(SCENARIOS);
      for (const kind of COVERAGE_KINDS) expect(result.coverage[kind], kind).toBeGreaterThan(0);
    },
    15 * 60_000,
  );
});
