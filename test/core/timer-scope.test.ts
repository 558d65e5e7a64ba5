import { VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { TimerScope } from "../../src/core/timer-scope.js";

describe("TimerScope", () => {
  it("runs a timer once its delay has passed on the clock, not before", async () => {
    const clock = new VirtualClock();
    const timers = new TimerScope(clock);
    const fired: number[] = [];
    timers.after(1_000, () => fired.push(clock.now()));
    const start = clock.now();
    await clock.advance(999);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([start + 1_000]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("a cancelled timer never runs and leaves no timer on the clock", async () => {
    const clock = new VirtualClock();
    const timers = new TimerScope(clock);
    let fired = false;
    const cancel = timers.after(1_000, () => {
      fired = true;
    });
    cancel();
    cancel();
    await clock.advance(5_000);
    expect(fired).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it("close clears every timer, rejects every wait with the reason and aborts the signal", async () => {
    const clock = new VirtualClock();
    const timers = new TimerScope(clock);
    let fired = 0;
    for (let i = 1; i <= 20; i++) {
      timers.after(i * 100, () => {
        fired++;
      });
    }
    const waits = [timers.sleep(50), timers.sleep(10_000)].map((p) => p.catch((e: unknown) => e));
    let closedSeen = 0;
    timers.onClose(() => closedSeen++);
    const removed = timers.onClose(() => closedSeen++);
    removed();
    await clock.advance(250);
    expect(fired).toBe(2);
    const reason = new Error("closed");
    timers.close(reason);
    timers.close(new Error("again"));
    expect(timers.closed).toBe(true);
    expect(timers.signal.aborted).toBe(true);
    expect(timers.signal.reason).toBe(reason);
    expect(await waits[0]).toBeUndefined();
    expect(await waits[1]).toBe(reason);
    expect(closedSeen).toBe(1);
    await clock.advance(10_000);
    expect(fired).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });

  it("after close, new timers are never set and new waits reject at once", async () => {
    const clock = new VirtualClock();
    const timers = new TimerScope(clock);
    timers.close("stop");
    let fired = false;
    timers.after(10, () => {
      fired = true;
    })();
    expect(clock.pendingTimers).toBe(0);
    await expect(timers.sleep(10)).rejects.toBe("stop");
    await clock.advance(100);
    expect(fired).toBe(false);
  });
});
