import { isOrdersafeError } from "ordersafe";
import { scheduleOn, VIRTUAL_CLOCK_DEFAULTS, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

describe("VirtualClock", () => {
  it("starts where told and moves only when advanced", async () => {
    const clock = new VirtualClock({ start: 1000 });
    const fired: number[] = [];
    clock.schedule(50, () => fired.push(clock.now()));
    clock.schedule(10, () => fired.push(clock.now()));
    expect(clock.now()).toBe(1000);
    await clock.advance(20);
    expect(fired).toEqual([1010]);
    expect(clock.now()).toBe(1020);
    await clock.advance(100);
    expect(fired).toEqual([1010, 1050]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("fires timers due at the same instant in the order they were set", async () => {
    const clock = new VirtualClock();
    const order: string[] = [];
    for (const name of ["a", "b", "c"]) clock.schedule(5, () => order.push(name));
    await clock.advance(5);
    expect(order).toEqual(["a", "b", "c"]);
  });

  it("lets awaited chains settle between firings", async () => {
    const clock = new VirtualClock({ start: 0 });
    const seen: number[] = [];
    const chain = async () => {
      await clock.sleep(10);
      seen.push(clock.now());
      await Promise.resolve();
      await clock.sleep(10);
      seen.push(clock.now());
    };
    const p = chain();
    await clock.advance(20);
    await p;
    expect(seen).toEqual([10, 20]);
  });

  it("run() drives time until the work settles, in no real time", async () => {
    const clock = new VirtualClock({ start: 0 });
    const started = Date.now();
    const result = await clock.run(async () => {
      for (let i = 0; i < 100; i++) await clock.sleep(60_000);
      return clock.now();
    });
    expect(result).toBe(6_000_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("run() rethrows the work's error and reports a deadlock", async () => {
    const clock = new VirtualClock();
    await expect(clock.run(Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    const never = new Promise<void>(() => {});
    try {
      await clock.run(never);
      expect.unreachable();
    } catch (e) {
      expect(isOrdersafeError(e) && e.code).toBe("invalid_state");
    }
  });

  it("sleep honours abort signals and removes its timer", async () => {
    const clock = new VirtualClock();
    const c = new AbortController();
    const p = clock.sleep(100, c.signal);
    expect(clock.pendingTimers).toBe(1);
    c.abort(new Error("stop"));
    await expect(p).rejects.toThrow("stop");
    expect(clock.pendingTimers).toBe(0);
    await expect(clock.sleep(1, AbortSignal.abort(new Error("early")))).rejects.toThrow("early");
  });

  it("scheduleOn cancels on a virtual clock", async () => {
    const clock = new VirtualClock();
    let fired = 0;
    const cancel = scheduleOn(clock, 10, () => fired++);
    scheduleOn(clock, 10, () => fired++);
    cancel();
    await clock.runUntilIdle();
    expect(fired).toBe(1);
  });

  it("starts at VIRTUAL_CLOCK_DEFAULTS.start; run() gives up past its default time bound", async () => {
    const clock = new VirtualClock();
    expect(clock.now()).toBe(VIRTUAL_CLOCK_DEFAULTS.start);
    expect(new Date(clock.now()).toISOString()).toBe("2026-01-05T14:30:00.000Z");
    const tooLong = clock.run(clock.sleep(VIRTUAL_CLOCK_DEFAULTS.run.maxTimeMs + 1));
    await expect(tooLong).rejects.toMatchObject({ code: "invalid_state" });
    const idle = new VirtualClock();
    idle.schedule(VIRTUAL_CLOCK_DEFAULTS.runUntilIdle.maxTimeMs + 1, () => {});
    expect(await idle.runUntilIdle()).toBe(0);
  });

  it("run() returns what the work resolves to, undefined included", async () => {
    const clock = new VirtualClock();
    expect(await clock.run(async () => undefined)).toBeUndefined();
    expect(await clock.run(clock.sleep(5).then(() => 0))).toBe(0);
  });

  it("rejects a non-finite start", () => {
    expect(() => new VirtualClock({ start: Number.NaN })).toThrow();
  });
});
