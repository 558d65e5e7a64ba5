import fc from "fast-check";
import { isValidationError } from "ordersafe";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { findForbiddenKey, isSymbolText, parseInput, zDecimal, zSymbol } from "../../src/core/validation.js";

// parseInput is internal (every public entry uses it); it is tested here directly.
describe("parseInput", () => {
  const schema = z.strictObject({ weights: z.record(zSymbol, zDecimal), band: zDecimal.optional() });

  function issues(input: unknown) {
    try {
      parseInput(schema, input, "targets");
    } catch (e) {
      if (!isValidationError(e)) throw e;
      return { message: e.message, issues: e.issues };
    }
    return undefined;
  }

  it("returns parsed values", () => {
    const out = parseInput(schema, { weights: { SPY: "0.5" } }, "targets");
    expect(out.weights.SPY?.toString()).toBe("0.5");
  });

  it("names the path and the offending value", () => {
    const r = issues({ weights: { SPY: "abc" } });
    expect(r?.issues[0]?.path).toBe("targets.weights.SPY");
    expect(r?.issues[0]?.value).toBe("abc");
    expect(r?.message).toContain("targets.weights.SPY");
    expect(r?.message).toContain('"abc"');
  });

  it("refuses unknown keys and prototype-polluting keys", () => {
    expect(issues({ weights: {}, leverage: 2 })?.message).toContain("leverage");
    const evil = JSON.parse('{"weights":{"__proto__":{"x":1}}}');
    expect(issues(evil)?.issues[0]?.path).toBe("targets.weights.__proto__");
    expect(issues({ weights: { "bad symbol": 1 } })?.issues[0]?.path).toContain("weights");
  });
});

describe("injected objects", () => {
  it("services refuse a port, clock or logger missing a method, naming it", async () => {
    const { BuyingPowerManager, OrderTracker, SmartRebalancer, systemClock } = await import("ordersafe");
    const { createSimulatedBroker } = await import("ordersafe/testing");
    const broker = createSimulatedBroker();
    const { submitOrder: _omit, ...partial } = broker as unknown as Record<string, unknown>;
    const attempts: (() => unknown)[] = [
      () => new SmartRebalancer({ broker: partial as never }),
      () => new OrderTracker({ broker: partial as never }),
      () => new BuyingPowerManager({ broker, clock: { now: () => 0 } as never }),
      () => new SmartRebalancer({ broker, clock: systemClock, logger: { warn() {} } as never }),
    ];
    for (const make of attempts) {
      let caught: unknown;
      try {
        make();
      } catch (e) {
        caught = e;
      }
      expect(isValidationError(caught)).toBe(true);
    }
    // console satisfies the Logger shape; the simulated broker the BrokerPort one.
    expect(() => new SmartRebalancer({ broker, logger: console })).not.toThrow();
  });
});

describe("findForbiddenKey", () => {
  const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

  // The plain depth-first walk (own string keys in order, map entries, dates as leaves) that
  // the tuned one must agree with.
  function reference(value: unknown, seen = new Set<unknown>()): string[] | undefined {
    if (typeof value !== "object" || value === null || value instanceof Date || seen.has(value))
      return undefined;
    seen.add(value);
    if (value instanceof Map) {
      for (const [k, v] of value) {
        if (typeof k === "string" && FORBIDDEN.has(k)) return [k];
        const found = reference(v, seen);
        if (found !== undefined) return [String(k), ...found];
      }
      return undefined;
    }
    for (const key of Reflect.ownKeys(value)) {
      if (typeof key !== "string") continue;
      if (FORBIDDEN.has(key)) return [key];
      const found = reference(Reflect.get(value, key), seen);
      if (found !== undefined) return [key, ...found];
    }
    return undefined;
  }

  it("property: finds the first forbidden key of a depth-first walk, with its path", () => {
    let hits = 0;
    fc.assert(
      fc.property(
        fc.anything({
          key: fc.constantFrom("a", "b", "0", "1", "__proto__", "constructor", "prototype"),
          maxDepth: 4,
          withMap: true,
          withSet: true,
          withDate: true,
          withNullPrototype: true,
          withSparseArray: true,
        }),
        (value) => {
          let keys: string[] | undefined;
          try {
            keys = reference(value);
          } catch (e) {
            // A map key that cannot be named (an object without toString): both walks throw.
            expect(e).toBeInstanceOf(TypeError);
            expect(() => findForbiddenKey(value)).toThrow(TypeError);
            return;
          }
          // Joined as error paths are: a dot between keys, none before the first.
          const expected = keys?.reduce((p, k) => (p === "" ? k : `${p}.${k}`), "");
          if (expected !== undefined) hits++;
          expect(findForbiddenKey(value)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
    expect(hits).toBeGreaterThan(50);
  });

  it("finds keys behind arrays with named keys, shared objects and cycles", () => {
    const shared = { a: 1 };
    const list: unknown[] = [shared, shared, { b: [1, 2] }];
    Object.assign(list, { extra: JSON.parse('{"__proto__": 1}') });
    const cyclic: Record<string, unknown> = { list };
    cyclic.self = cyclic;
    expect(findForbiddenKey(cyclic, "input")).toBe("input.list.extra.__proto__");
    expect(findForbiddenKey(new Map([["m", { constructor: 1 }]]))).toBe("m.constructor");
    expect(findForbiddenKey([0, [1, { prototype: 2 }]])).toBe("1.1.prototype");
    expect(findForbiddenKey({ a: [shared, shared], b: cyclic.list })).toBe("b.extra.__proto__");
  });
});

describe("isSymbolText", () => {
  const SYMBOL = /^[A-Za-z0-9][A-Za-z0-9./:_-]{0,31}$/;
  const UPPER = /^[A-Z0-9][A-Z0-9./:_-]{0,31}$/;
  // Strings near the grammar: its characters, their neighbours in the code table, and any.
  const near = fc.constantFrom(..."AZaz09./:_-@[`{,;+ \u00c9\u0130\u212a".split(""));
  const text = fc.oneof(
    fc.array(near, { maxLength: 40 }).map((cs) => cs.join("")),
    fc.string({ maxLength: 40 }),
    fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9./:_-]{0,34}$/),
  );

  it("property: the same answer as the symbol patterns, upper-case or not", () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(isSymbolText(s, false)).toBe(SYMBOL.test(s));
        expect(isSymbolText(s, true)).toBe(UPPER.test(s));
      }),
      { numRuns: 3000 },
    );
    expect(isSymbolText("BRK.B", true)).toBe(true);
    expect(isSymbolText("-X", false)).toBe(false);
    expect(isSymbolText("A".repeat(32), true)).toBe(true);
    expect(isSymbolText("A".repeat(33), true)).toBe(false);
  });
});
