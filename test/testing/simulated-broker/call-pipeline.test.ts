import { BROKER_METHODS, isBrokerError } from "ordersafe";
import { describe, expect, it } from "vitest";
import { CallPipeline } from "../../../src/testing/simulated-broker/call-pipeline.js";
import { EventLog } from "../../../src/testing/simulated-broker/event-log.js";
import { FaultPlan } from "../../../src/testing/simulated-broker/fault-plan.js";
import { VirtualClock } from "../../../src/testing/virtual-clock.js";

function setup(restMs = 0) {
  const clock = new VirtualClock({ start: 0 });
  const log = new EventLog(clock);
  const faults = new FaultPlan(1, undefined, log);
  return { clock, log, faults, pipeline: new CallPipeline(clock, log, faults, restMs) };
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    return `ok ${String(await p)}`;
  } catch (e) {
    return isBrokerError(e) ? `error ${e.code}` : `thrown ${String(e)}`;
  }
}

describe("CallPipeline", () => {
  it("counts every method, in BROKER_METHODS order, and resets", async () => {
    const { pipeline } = setup();
    expect(Object.keys(pipeline.calls)).toEqual([...BROKER_METHODS]);
    await pipeline.run("getOrder", undefined, false, () => () => 1);
    await pipeline.run("getOrder", undefined, false, () => () => 1);
    await pipeline.run("submitOrder", undefined, true, () => () => 1);
    expect(pipeline.calls.getOrder).toBe(2);
    expect(pipeline.total()).toBe(3);
    expect(Object.isFrozen(pipeline.calls)).toBe(true);
    pipeline.reset();
    expect(pipeline.total()).toBe(0);
  });

  it("replies after restMs; a refusal of the effect is thrown after it too", async () => {
    const { clock, pipeline } = setup(50);
    const reply = pipeline.run("getClock", undefined, false, () => () => "r");
    const refused = outcome(
      pipeline.run("submitOrder", undefined, true, () => {
        throw new Error("refused");
      }),
    );
    await clock.advance(49);
    let settled = false;
    void reply.then(() => {
      settled = true;
    });
    await clock.advance(0);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await reply).toBe("r");
    expect(await refused).toBe("thrown Error: refused");
  });

  it("unavailable and rate_limited: no effect; ambiguous: the effect, then the error", async () => {
    const { pipeline, faults } = setup();
    let effects = 0;
    const effect = () => {
      effects++;
      return () => effects;
    };
    faults.script({ kind: "unavailable" });
    expect(await outcome(pipeline.run("cancelOrder", undefined, true, effect))).toBe("error unavailable");
    faults.script({ kind: "rate_limited" });
    expect(await outcome(pipeline.run("cancelOrder", undefined, true, effect))).toBe("error rate_limited");
    expect(effects).toBe(0);
    faults.script({ kind: "ambiguous" });
    expect(await outcome(pipeline.run("cancelOrder", undefined, true, effect))).toBe("error ambiguous");
    expect(effects).toBe(1);
  });

  it("aborted before the call: the reason, no effect, not logged; in flight: ambiguous for a write, the reason for a read", async () => {
    const { clock, log, pipeline } = setup(10);
    const reason = new Error("stop");
    let effects = 0;
    const effect = () => {
      effects++;
      return () => effects;
    };
    expect(
      await outcome(pipeline.run("submitOrder", { signal: AbortSignal.abort(reason) }, true, effect)),
    ).toBe("thrown Error: stop");
    expect(effects).toBe(0);
    expect(log.list()).toEqual([]);
    const w = new AbortController();
    const write = outcome(pipeline.run("submitOrder", { signal: w.signal }, true, effect));
    const r = new AbortController();
    const read = outcome(pipeline.run("getAccount", { signal: r.signal }, false, effect));
    w.abort(reason);
    r.abort(reason);
    await clock.advance(10);
    expect(await write).toBe("error ambiguous");
    expect(await read).toBe("thrown Error: stop");
    expect(effects).toBe(2);
  });
});
