import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventLog } from "../../../src/testing/simulated-broker/event-log.js";
import {
  FaultPlan,
  faultNumber,
  faultText,
  REST_ERROR_FAULTS,
  STREAM_FAULTS,
} from "../../../src/testing/simulated-broker/fault-plan.js";
import { SIM_FAULT_KINDS, type SimFaultKind } from "../../../src/testing/simulated-broker/options.js";
import { VirtualClock } from "../../../src/testing/virtual-clock.js";

function plan(seed = 1, options?: ConstructorParameters<typeof FaultPlan>[1]) {
  const log = new EventLog(new VirtualClock());
  return { faults: new FaultPlan(seed, options, log), log };
}

describe("FaultPlan", () => {
  it("takes nothing when nothing is planned", () => {
    const { faults, log } = plan();
    expect(faults.take(SIM_FAULT_KINDS)).toBeUndefined();
    expect(log.list()).toEqual([]);
  });

  it("a scripted fault applies `times` times to the matching kinds, then is gone", () => {
    const { faults, log } = plan();
    faults.script({ kind: "stream_drop", times: 2 });
    expect(faults.take(REST_ERROR_FAULTS, "getAccount")).toBeUndefined();
    expect(faults.take(STREAM_FAULTS)?.kind).toBe("stream_drop");
    expect(faults.take(STREAM_FAULTS)?.kind).toBe("stream_drop");
    expect(faults.take(STREAM_FAULTS)).toBeUndefined();
    expect(log.list().map((e) => [e.type, e.kind, e.source, e.method])).toEqual([
      ["fault", "stream_drop", "script", null],
      ["fault", "stream_drop", "script", null],
    ]);
  });

  it("a fault bound to a method spares the others; a take without a method matches it", () => {
    const { faults } = plan();
    faults.script({ kind: "unavailable", method: "submitOrder" });
    expect(faults.take(REST_ERROR_FAULTS, "getAccount")).toBeUndefined();
    expect(faults.take(REST_ERROR_FAULTS, "submitOrder")?.kind).toBe("unavailable");
    faults.script({ kind: "stale_reads", ms: 5, method: "getPositions" });
    expect(faults.take(["stale_reads"])?.params).toEqual({ ms: 5, method: "getPositions" });
  });

  it("resolve turns a fault's parameters into the values it applies with, returned and logged", () => {
    const { faults, log } = plan(1, { read_lag: { probability: 1, minMs: 1, maxMs: 2 } });
    faults.script({ kind: "read_lag", minMs: 10, maxMs: 20, method: "getAccount" });
    const resolve = (f: { params: Readonly<Record<string, unknown>> }) => ({ ms: Number(f.params.maxMs) });
    expect(faults.take(["read_lag"], "getAccount", resolve)).toEqual({
      kind: "read_lag",
      params: { minMs: 10, maxMs: 20, method: "getAccount", ms: 20 },
    });
    expect(faults.take(["read_lag"], "getPositions", resolve)?.params).toEqual({ minMs: 1, maxMs: 2, ms: 2 });
    // Without resolve, nothing is added.
    expect(faults.take(["read_lag"], "getPosition")?.params).toEqual({ minMs: 1, maxMs: 2 });
    expect(log.list().map((e) => [e.kind, e.source, e.method, e.ms])).toEqual([
      ["read_lag", "script", "getAccount", 20],
      ["read_lag", "seed", "getPositions", 2],
      ["read_lag", "seed", "getPosition", undefined],
    ]);
  });

  it("scripted faults come first, in the order they were queued", () => {
    const { faults } = plan(1, { unavailable: 1 });
    faults.script({ kind: "rate_limited", retryAfterMs: 7 });
    faults.script({ kind: "ambiguous" });
    expect(faults.take(REST_ERROR_FAULTS, "getClock")).toEqual({
      kind: "rate_limited",
      params: { retryAfterMs: 7 },
    });
    expect(faults.take(REST_ERROR_FAULTS, "getClock")?.kind).toBe("ambiguous");
    expect(faults.take(REST_ERROR_FAULTS, "getClock")).toEqual({ kind: "unavailable", params: {} });
  });

  it("seeded probability 1 always hits, 0 never; parameters ride along without the probability", () => {
    const { faults, log } = plan(3, { latency_spike: { probability: 1, ms: 40 }, stream_drop: 0 });
    for (let i = 0; i < 5; i++) {
      expect(faults.take(["latency_spike"], "getOrder")).toEqual({
        kind: "latency_spike",
        params: { ms: 40 },
      });
      expect(faults.take(STREAM_FAULTS)).toBeUndefined();
    }
    expect(log.list().every((e) => e.source === "seed" && e.method === "getOrder")).toBe(true);
  });

  it("the same seed draws the same faults however the options object was written", () => {
    const kinds = fc.uniqueArray(fc.constantFrom(...SIM_FAULT_KINDS), { minLength: 1 });
    fc.assert(
      fc.property(fc.integer(), kinds, fc.double({ min: 0.05, max: 0.9, noNaN: true }), (seed, chosen, p) => {
        const forward: Partial<Record<SimFaultKind, number>> = {};
        for (const k of chosen) forward[k] = p;
        const backward: Partial<Record<SimFaultKind, number>> = {};
        for (const k of [...chosen].reverse()) backward[k] = p;
        const a = plan(seed, forward).faults;
        const b = plan(seed, backward).faults;
        for (let i = 0; i < 30; i++) {
          const method = i % 2 === 0 ? "submitOrder" : undefined;
          expect(b.take(SIM_FAULT_KINDS, method)).toEqual(a.take(SIM_FAULT_KINDS, method));
        }
      }),
      { numRuns: 50 },
    );
  });

  it("faultNumber and faultText fall back to the default when the fault does not say", () => {
    expect(faultNumber({ kind: "stream_delay", params: { ms: 12 } }, "ms", 500)).toBe(12);
    expect(faultNumber({ kind: "stream_delay", params: {} }, "ms", 500)).toBe(500);
    expect(faultText({ kind: "reject_after_accept", params: { reason: "halted" } }, "reason", "x")).toBe(
      "halted",
    );
    expect(faultText({ kind: "reject_after_accept", params: {} }, "reason", "x")).toBe("x");
  });
});
