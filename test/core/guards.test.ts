import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isKeyOf, isObject, isOneOf } from "../../src/core/guards.js";

describe("guards", () => {
  it("isObject: non-null objects only", () => {
    for (const v of [{}, [], new Error("x"), new Map(), Object.create(null)]) expect(isObject(v)).toBe(true);
    for (const v of [null, undefined, 0, "x", true, 1n, () => {}, Symbol("s")])
      expect(isObject(v)).toBe(false);
  });

  it("isKeyOf: own string keys, never inherited ones", () => {
    const table = { new: "new", filled: "filled" };
    expect(isKeyOf(table, "new")).toBe(true);
    for (const v of ["toString", "constructor", "__proto__", "hasOwnProperty", "", 1, null, undefined]) {
      expect(isKeyOf(table, v)).toBe(false);
    }
  });

  it("isOneOf: membership by identity", () => {
    const sides = ["buy", "sell"] as const;
    fc.assert(
      fc.property(fc.anything(), (v) => {
        expect(isOneOf(sides, v)).toBe(v === "buy" || v === "sell");
      }),
    );
    expect(isOneOf(sides, "buy")).toBe(true);
  });
});
