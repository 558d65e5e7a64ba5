import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hasMethods, isKeyOf, isObject, isOneOf, propertyOf } from "../../src/core/guards.js";

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

  it("hasMethods: an object with a function under every name", () => {
    expect(hasMethods(console, ["debug", "info", "warn", "error"])).toBe(true);
    expect(hasMethods({ now: () => 0, sleep: () => {} }, ["now", "sleep"])).toBe(true);
    expect(hasMethods({ now: () => 0, sleep: 1 }, ["now", "sleep"])).toBe(false);
    expect(hasMethods({ now: () => 0 }, ["now", "sleep"])).toBe(false);
    expect(hasMethods(null, [])).toBe(false);
    expect(hasMethods(() => {}, [])).toBe(false);
    expect(hasMethods({}, [])).toBe(true);
  });

  it("propertyOf: value[key] for anything but null and undefined", () => {
    const cause = { code: "ECONNREFUSED" };
    const error = Object.assign(new Error("x"), { cause });
    expect(propertyOf(error, "cause")).toBe(cause);
    expect(propertyOf(propertyOf(error, "cause"), "code")).toBe("ECONNREFUSED");
    expect(propertyOf("abc", "length")).toBe(3);
    expect(
      propertyOf(
        Object.assign(() => {}, { code: 7 }),
        "code",
      ),
    ).toBe(7);
    expect(propertyOf(null, "code")).toBeUndefined();
    expect(propertyOf(undefined, "code")).toBeUndefined();
    expect(propertyOf(1, "code")).toBeUndefined();
  });
});
