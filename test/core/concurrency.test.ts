import fc from "fast-check";
import { VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { mapBounded, Semaphore } from "../../src/core/concurrency.js";

describe("mapBounded", () => {
  it("keeps the order and never exceeds the limit (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 8 }),
        async (delays, limit) => {
          const clock = new VirtualClock();
          let inFlight = 0;
          let most = 0;
          const out = await clock.run(
            mapBounded(delays, limit, async (d, i) => {
              inFlight++;
              most = Math.max(most, inFlight);
              await clock.sleep(d);
              inFlight--;
              return i * 10;
            }),
          );
          expect(out).toEqual(delays.map((_, i) => i * 10));
          expect(most).toBeLessThanOrEqual(limit);
          if (delays.length > 0) expect(most).toBe(Math.min(limit, delays.length));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("starts nothing after the first failure and throws it once the others finish", async () => {
    const clock = new VirtualClock();
    const started: number[] = [];
    const finished: number[] = [];
    const p = mapBounded([0, 1, 2, 3, 4], 2, async (i) => {
      started.push(i);
      await clock.sleep(i === 0 ? 10 : 50);
      if (i === 0) throw new Error("first");
      finished.push(i);
      return i;
    });
    await expect(clock.run(p)).rejects.toThrow("first");
    expect(started).toEqual([0, 1]);
    expect(finished).toEqual([1]);
  });
});

describe("Semaphore", () => {
  it("never lets more than its permits run, and serves waiters in arrival order (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 6 }),
        async (delays, permits) => {
          const clock = new VirtualClock();
          const s = new Semaphore(permits);
          let inFlight = 0;
          let most = 0;
          const started: number[] = [];
          await clock.run(
            Promise.all(
              delays.map((d, i) =>
                s.run(async () => {
                  started.push(i);
                  inFlight++;
                  most = Math.max(most, inFlight);
                  await clock.sleep(d);
                  inFlight--;
                }),
              ),
            ),
          );
          expect(most).toBe(Math.min(permits, delays.length));
          expect(started).toEqual(delays.map((_, i) => i));
          expect(s.held).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a waiter whose signal aborts leaves the queue without a permit", async () => {
    const s = new Semaphore(1);
    const release = await s.acquire();
    const ac = new AbortController();
    const waiting = s.acquire(ac.signal);
    ac.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
    release();
    release(); // a second release does nothing
    expect(s.held).toBe(0);
    const again = await s.acquire();
    expect(s.held).toBe(1);
    again();
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
