import fc from "fast-check";
import { clientOrderId, isValidationError, MAX_CLIENT_ORDER_ID_LENGTH, makeRunId } from "ordersafe";
import { describe, expect, it } from "vitest";

const parts = fc.record({
  runId: fc.string({ minLength: 1, maxLength: 80 }),
  symbol: fc.string({ minLength: 1, maxLength: 20 }),
  side: fc.constantFrom("buy" as const, "sell" as const),
  generation: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
});

describe("clientOrderId", () => {
  it("is readable and stable", () => {
    const id = clientOrderId({ runId: "2026-11-25", symbol: "TECL", side: "buy", generation: 0 });
    expect(id).toMatch(/^os-20261125-TECL-b0-[A-Za-z0-9_-]{16}$/);
    // Stable across processes and releases: a resumed run must find the ids it made before.
    expect(id).toBe(clientOrderId({ runId: "2026-11-25", symbol: "TECL", side: "buy", generation: 0 }));
    expect(id).toBe("os-20261125-TECL-b0-arj4juOM01odDAMH");
  });

  it("property: at most 48 characters of [A-Za-z0-9-_]", () => {
    fc.assert(
      fc.property(parts, (p) => {
        const id = clientOrderId(p);
        expect(id.length).toBeLessThanOrEqual(MAX_CLIENT_ORDER_ID_LENGTH);
        expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: distinct inputs give distinct ids (including inputs that sanitise alike)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(parts, { minLength: 2, maxLength: 50, selector: (p) => JSON.stringify(p) }),
        (list) => {
          const ids = new Set(list.map(clientOrderId));
          expect(ids.size).toBe(list.length);
        },
      ),
      { numRuns: 300 },
    );
    const a = clientOrderId({ runId: "a.b", symbol: "X", side: "buy", generation: 1 });
    const b = clientOrderId({ runId: "a_b", symbol: "X", side: "buy", generation: 1 });
    expect(a).not.toBe(b);
  });

  it("rejects empty parts and bad generations", () => {
    const bad = [
      { runId: "", symbol: "X", side: "buy", generation: 0 },
      { runId: "r", symbol: "", side: "buy", generation: 0 },
      { runId: "r", symbol: "X", side: "hold", generation: 0 },
      { runId: "r", symbol: "X", side: "buy", generation: -1 },
      { runId: "r", symbol: "X", side: "buy", generation: 1.5 },
    ];
    for (const p of bad) {
      let caught: unknown;
      try {
        clientOrderId(p as Parameters<typeof clientOrderId>[0]);
      } catch (e) {
        caught = e;
      }
      expect(isValidationError(caught)).toBe(true);
    }
  });
});

describe("makeRunId", () => {
  it("is deterministic and distinguishes entropy", () => {
    const t = Date.UTC(2026, 10, 25, 3, 51, 21);
    expect(makeRunId(t, 1)).toBe(makeRunId(t, 1));
    expect(makeRunId(t, 1)).not.toBe(makeRunId(t, 2));
    expect(makeRunId(t, 1)).toMatch(/^r20261125T035121-[A-Za-z0-9]{6}$/);
  });
});
