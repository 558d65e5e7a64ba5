import { abortReason, createRandom, silentLogger, systemClock, throwIfAborted } from "ordersafe";
import { describe, expect, it } from "vitest";

describe("systemClock", () => {
  it("now() is the wall clock", () => {
    const before = Date.now();
    const t = systemClock.now();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });

  it("sleep(0) resolves", async () => {
    await expect(systemClock.sleep(0)).resolves.toBeUndefined();
  });

  it("sleep rejects at once with the reason of an already-aborted signal", async () => {
    const reason = new Error("stop");
    await expect(systemClock.sleep(10_000, AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it("sleep rejects when aborted while waiting, and its timer does not keep the process alive", async () => {
    const controller = new AbortController();
    const p = systemClock.sleep(60_000, controller.signal);
    controller.abort(new Error("cancelled"));
    await expect(p).rejects.toThrow("cancelled");
  });

  it("sleep with a signal resolves and takes its abort listener off the signal", async () => {
    const signal = new AbortController().signal;
    const listening = new Set<unknown>();
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    type Add = Parameters<typeof add>;
    Object.assign(signal, {
      addEventListener: (type: Add[0], l: Add[1], o?: Add[2]) => {
        listening.add(l);
        add(type, l, o);
      },
      removeEventListener: (type: Add[0], l: Add[1]) => {
        listening.delete(l);
        remove(type, l);
      },
    });
    const p = systemClock.sleep(1, signal);
    expect(listening.size).toBe(1);
    await expect(p).resolves.toBeUndefined();
    expect(listening.size).toBe(0);
  });

  it("abortReason gives an AbortError when the signal has no reason", () => {
    const c = new AbortController();
    c.abort();
    expect(abortReason(c.signal)).toBeInstanceOf(Error);
    expect(() => throwIfAborted(c.signal)).toThrow();
    expect(() => throwIfAborted(undefined)).not.toThrow();
  });
});

describe("createRandom", () => {
  it("replays the same sequence for the same seed, in [0, 1)", () => {
    const a = createRandom(42);
    const b = createRandom(42);
    const xs = Array.from({ length: 1000 }, () => a());
    const ys = Array.from({ length: 1000 }, () => b());
    expect(xs).toEqual(ys);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(createRandom(43)()).not.toBe(createRandom(42)());
    // Roughly uniform: the mean of 1000 draws is near 0.5.
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });
});

describe("silentLogger", () => {
  it("accepts pino-style and console-style calls without output", () => {
    expect(() => {
      silentLogger.info({ symbol: "SPY" }, "submitted");
      silentLogger.warn("plain");
      silentLogger.error(new Error("x"));
      silentLogger.debug();
    }).not.toThrow();
  });
});
