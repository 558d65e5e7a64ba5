import {
  CORRECTION_MODES,
  type CorrectionMode,
  DEFAULT_CORRECTION_POLICY,
  POSITION_CORRECTION_DEFAULTS,
  POSITION_RECONCILIATION_DEFAULTS,
  PositionBook,
  PositionCorrectionEngine,
  PositionReconciliationEngine,
} from "ordersafe";
import { describe, expect, expectTypeOf, it } from "vitest";
import { setup } from "./helpers.js";

describe("the reconcile services' defaults", () => {
  it("are frozen objects", () => {
    expect(Object.isFrozen(POSITION_RECONCILIATION_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(POSITION_CORRECTION_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(POSITION_CORRECTION_DEFAULTS.limits)).toBe(true);
    expect(POSITION_CORRECTION_DEFAULTS.policy).toBe(DEFAULT_CORRECTION_POLICY);
  });

  it("an engine without options confirms a drift POSITION_RECONCILIATION_DEFAULTS.confirmReads times, confirmDelayMs apart", async () => {
    const s = setup({ book: { FNGU: "1500" } });
    const scan = await s.clock.run(s.engine.detectDrift());
    expect(scan.drifts.map((d) => d.class)).toEqual(["unexplained"]);
    expect(scan.reads).toBe(1 + POSITION_RECONCILIATION_DEFAULTS.confirmReads);
    // The same scan with no delay between the reads is shorter by exactly the waits.
    const t = setup({ book: { FNGU: "1500" } });
    const undelayed = new PositionReconciliationEngine({
      broker: t.broker,
      clock: t.clock,
      book: t.book,
      confirmDelayMs: 0,
    });
    const quick = await t.clock.run(undelayed.detectDrift());
    expect(quick.reads).toBe(scan.reads);
    expect(scan.durationMs - quick.durationMs).toBe(
      POSITION_RECONCILIATION_DEFAULTS.confirmReads * POSITION_RECONCILIATION_DEFAULTS.confirmDelayMs,
    );
  });

  it("every correction mode is accepted, and nothing else", () => {
    expectTypeOf<(typeof CORRECTION_MODES)[number]>().toEqualTypeOf<CorrectionMode>();
    for (const mode of CORRECTION_MODES) {
      expect(new PositionCorrectionEngine({ mode, book: new PositionBook() }).mode).toBe(mode);
    }
    // Options read from a JSON config file: the mode is checked at run time.
    const fromConfig: { mode: CorrectionMode } = JSON.parse('{ "mode": "yolo" }');
    expect(() => new PositionCorrectionEngine({ ...fromConfig, book: new PositionBook() })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
  });

  it("a correction engine without limits reports POSITION_CORRECTION_DEFAULTS.limits", () => {
    const engine = new PositionCorrectionEngine({ mode: "report", book: new PositionBook() });
    const report = engine.createReconciliationReport();
    expect(report.limits).toEqual({
      maxAutoNotional: POSITION_CORRECTION_DEFAULTS.limits.maxAutoNotional.toFixed(),
      maxActionsPerRun: POSITION_CORRECTION_DEFAULTS.limits.maxActionsPerRun,
    });
  });
});
