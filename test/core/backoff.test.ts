import { BrokerError } from "ordersafe";
import { VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { backoffDelay, retryRead } from "../../src/core/backoff.js";

describe("backoffDelay", () => {
  it("grows by the factor and stops at the cap", () => {
    const p = { initialMs: 100, factor: 3, maxMs: 1_000 };
    expect([0, 1, 2, 3].map((i) => backoffDelay(p, i))).toEqual([100, 300, 900, 1_000]);
  });
  it("doubles by default and has no cap", () => {
    expect(backoffDelay({ initialMs: 200 }, 4)).toBe(3_200);
  });
  it("equal jitter keeps half the wait fixed", () => {
    const p = { initialMs: 1_000, jitter: "equal" } as const;
    expect(backoffDelay(p, 0, () => 0)).toBe(500);
    expect(backoffDelay(p, 0, () => 0.999)).toBe(1_000);
  });
});

describe("retryRead", () => {
  const policy = { initialMs: 200 };

  it("retries a retryable error with growing waits on the injected clock", async () => {
    const clock = new VirtualClock();
    const t0 = clock.now();
    const at: number[] = [];
    const value = await clock.run(
      retryRead(
        async () => {
          at.push(clock.now() - t0);
          if (at.length < 3) throw new BrokerError("unavailable", "down");
          return 7;
        },
        { clock, attempts: 5, backoff: policy },
      ),
    );
    expect(value).toBe(7);
    expect(at).toEqual([0, 200, 600]);
  });

  it("waits what a rate limit asks instead of the backoff", async () => {
    const clock = new VirtualClock();
    const t0 = clock.now();
    const at: number[] = [];
    await clock.run(
      retryRead(
        async () => {
          at.push(clock.now() - t0);
          if (at.length === 1) throw new BrokerError("rate_limited", "slow down", { retryAfterMs: 1_500 });
          return 1;
        },
        { clock, attempts: 3, backoff: policy },
      ),
    );
    expect(at).toEqual([0, 1_500]);
  });

  it("throws a non-retryable error at once and the last error after the attempts", async () => {
    const clock = new VirtualClock();
    let calls = 0;
    await expect(
      clock.run(
        retryRead(
          async () => {
            calls++;
            throw new BrokerError("unauthorized", "no");
          },
          { clock, attempts: 5, backoff: policy },
        ),
      ),
    ).rejects.toMatchObject({ code: "unauthorized" });
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      clock.run(
        retryRead(
          async () => {
            calls++;
            throw new BrokerError("unavailable", `down ${calls}`);
          },
          { clock, attempts: 3, backoff: policy },
        ),
      ),
    ).rejects.toMatchObject({ message: expect.stringContaining("down 3") });
    expect(calls).toBe(3);
  });

  it("stops when the signal aborts during a wait", async () => {
    const clock = new VirtualClock();
    const ac = new AbortController();
    let calls = 0;
    const p = retryRead(
      async () => {
        calls++;
        throw new BrokerError("unavailable", "down");
      },
      { clock, attempts: 5, backoff: policy, signal: ac.signal },
    );
    clock.schedule(100, () => ac.abort(new Error("stop")));
    await expect(clock.run(p)).rejects.toThrow("stop");
    expect(calls).toBe(1);
  });
});
