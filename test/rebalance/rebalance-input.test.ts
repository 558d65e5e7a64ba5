import fc from "fast-check";
import {
  calculateRebalanceOrders,
  Decimal,
  LEG_ACTIONS,
  LEG_REASONS,
  REBALANCE_DEFAULTS,
  RebalanceCapabilitiesSchema,
  RebalanceInputSchema,
  RebalanceOptionsSchema,
  SKIP_REASONS,
} from "ordersafe";
import { describe, expect, it } from "vitest";
import { parseInput } from "../../src/core/validation.js";
import { fastParse, parseRebalanceInput } from "../../src/rebalance/parse-rebalance-input.js";
import { baseInput, fractional, openOrder, position, wholeShares } from "./fixtures.js";

describe("REBALANCE_DEFAULTS", () => {
  it("is what the schemas fill in", () => {
    const { untargeted, capabilities, ...options } = REBALANCE_DEFAULTS;
    expect(RebalanceOptionsSchema.parse({})).toStrictEqual(options);
    expect(RebalanceCapabilitiesSchema.parse({})).toStrictEqual(capabilities);
    expect(RebalanceInputSchema.parse(baseInput()).capabilities).toStrictEqual(capabilities);
    // untargeted depends on the targets: left unset by the schema, settled by the planner.
    expect(RebalanceOptionsSchema.parse({}).untargeted).toBeUndefined();
    expect(untargeted).toEqual({ weights: "liquidate", quantities: "keep", notionals: "keep" });
  });

  it("hands each parse its own keep list", () => {
    const a = RebalanceOptionsSchema.parse({});
    a.keep.push("AAA");
    expect(RebalanceOptionsSchema.parse({}).keep).toEqual([]);
    expect(REBALANCE_DEFAULTS.keep).toEqual([]);
  });
});

describe("plan vocabularies", () => {
  it("name every action, leg reason and skip reason a plan gives", () => {
    const plan = calculateRebalanceOrders(
      baseInput({
        positions: [position("AAA", "100"), position("SHORT", "-1"), position("DUST", "0.4")],
        targets: { weights: { AAA: 0.3, BBB: 0.2, CCC: 0.1, NOPE: 0.1, TINY: 0.0000001 } },
        prices: { AAA: "10", BBB: "20", SHORT: "5", DUST: "1", TINY: "3", NOPE: "2" },
        assets: [fractional("AAA"), fractional("BBB"), wholeShares("DUST"), fractional("TINY")],
        options: { keep: ["CCC"] },
        capabilities: { closePosition: false },
      }),
    );
    for (const leg of plan.legs) {
      expect(LEG_ACTIONS).toContain(leg.action);
      expect(LEG_REASONS).toContain(leg.reason);
    }
    const reasons = plan.skipped.map((s) => s.reason);
    for (const r of reasons) expect(SKIP_REASONS).toContain(r);
    expect(new Set(reasons).size).toBeGreaterThanOrEqual(4);
  });
});

// The fast path of parseRebalanceInput must give what the schema gives: the same values,
// the same keys present (undefined included).
describe("parseRebalanceInput", () => {
  const optionalDecimal = fc.constantFrom(undefined, null, "1.5", "0", "17");
  const orderArb = fc.record({
    side: fc.constantFrom("buy", "sell"),
    size: fc.constantFrom("qty", "notional"),
    filled: fc.constantFrom("0", "1"),
    filledAvgPrice: optionalDecimal,
    limitPrice: fc.constantFrom(undefined, null, "9.5"),
    createdAt: fc.constantFrom(undefined, null, new Date(1)),
    rejectReason: fc.constantFrom(undefined, null, "no"),
    status: fc.constantFrom("new", "partially_filled", "filled", "pending_cancel"),
    omit: fc.boolean(),
  });
  const arb = fc.record({
    orders: fc.array(orderArb, { maxLength: 4 }),
    marketValue: optionalDecimal,
    currentPrice: fc.constantFrom(undefined, null, "3"),
    minNotional: fc.constantFrom(undefined, null, "1"),
  });

  it("property: the fast path equals the schema on valid input", () => {
    fc.assert(
      fc.property(arb, (a) => {
        const openOrders = a.orders.map((o, i) => {
          const base = openOrder(`o${i}`, "AAA", o.side, o.size === "qty" ? "5" : "0", {
            filledQty: o.filled,
            status: o.status,
          });
          const { qty, ...rest } = base;
          const sized: Record<string, unknown> = o.size === "qty" ? { ...base } : { ...rest, notional: "50" };
          // Keys given as undefined or null, or left out.
          for (const key of ["filledAvgPrice", "limitPrice", "createdAt", "rejectReason"] as const) {
            if (!(o.omit && o[key] === undefined)) sized[key] = o[key];
          }
          return sized;
        });
        const input = {
          ...baseInput(),
          positions: [{ ...position("AAA", "10"), marketValue: a.marketValue, currentPrice: a.currentPrice }],
          openOrders,
          assets: [{ ...fractional("AAA"), minNotional: a.minNotional }, wholeShares("BBB")],
        };
        const fast = fastParse(input);
        expect(fast).toBeDefined();
        expect(fast).toStrictEqual(RebalanceInputSchema.parse(input));
        expect(parseRebalanceInput(input)).toStrictEqual(fast);
      }),
      { numRuns: 300 },
    );
  });

  it("names the offending path of bad input, as the schema does", () => {
    const bad = { ...baseInput(), openOrders: [{ ...openOrder("o", "AAA", "buy", "1"), side: "hold" }] };
    expect(fastParse(bad)).toBeUndefined();
    expect(() => parseRebalanceInput(bad)).toThrowError(/openOrders/);
    const neg = baseInput({ positions: [position("AAA", "10", "11")] });
    expect(() => parseRebalanceInput(neg)).toThrowError(/positions/);
    expect(() => parseRebalanceInput(baseInput({ prices: { AAA: new Decimal(-1) } }))).toThrowError(/prices/);
  });
});

// The fast path must accept only what the schema (and its forbidden-key walk) accepts, and
// read it as the schema does: random valid inputs, each with random small defects.
describe("parseRebalanceInput on malformed input", () => {
  type Input = Record<string, unknown>;
  const defects: Record<string, (i: Input) => void> = {
    lowercasePrice: (i) => set(i, "prices", "aaa", "3"),
    caseTwin: (i) => set(i, "prices", "Aaa", "3"),
    forbiddenPrice: (i) => set(i, "prices", "constructor", "3"),
    forbiddenWeight: (i) => set(i, "targets.weights", "prototype", 0.1),
    protoKey: (i) => Object.assign(i, { targets: JSON.parse('{"weights":{"__proto__":{"AAA":0.1}}}') }),
    zeroPrice: (i) => set(i, "prices", "AAA", 0),
    negativeWeight: (i) => set(i, "targets.weights", "BBB", "-0.1"),
    zeroWeight: (i) => set(i, "targets.weights", "BBB", "-0"),
    bigWeight: (i) => set(i, "targets.weights", "BBB", "1.5"),
    weightSum: (i) => set(i, "targets.weights", "CCC", "0.2"),
    weightSumNoise: (i) => set(i, "targets.weights", "CCC", "0.1000000005"),
    nanPrice: (i) => set(i, "prices", "BBB", Number.NaN),
    overflow: (i) => set(i, "prices", "BBB", "1e9999999999999999"),
    priceMap: (i) => Object.assign(i, { prices: new Map(Object.entries(i.prices as object)) }),
    weightMap: (i) =>
      Object.assign(i, {
        targets: {
          weights: new Map<string, unknown>([
            ["AAA", "0.5"],
            ["BBB", 0.25],
          ]),
        },
      }),
    badMapKey: (i) => Object.assign(i, { prices: new Map<unknown, unknown>([[1, "3"]]) }),
    nullProto: (i) => Object.assign(i, { prices: Object.assign(Object.create(null), i.prices) }),
    hidden: (i) => Object.defineProperty(i.prices as object, "CCC", { value: "3", enumerable: false }),
    hiddenForbidden: (i) => Object.defineProperty(i.prices as object, "constructor", { value: "3" }),
    symbolKey: (i) => Object.assign(i.prices as object, { [Symbol("x")]: "3" }),
    twoKinds: (i) => Object.assign(i.targets as object, { quantities: { AAA: "1" } }),
    noKind: (i) => Object.assign(i, { targets: { weights: undefined } }),
    extraTop: (i) => Object.assign(i, { extra: 1 }),
    extraPosition: (i) => Object.assign((i.positions as object[])[0]!, { extra: { constructor: 1 } }),
    arrayProp: (i) => Object.assign(i.positions as object, { extra: 1 }),
    arrayForbidden: (i) => Object.defineProperty(i.assets as object, "constructor", { value: 1 }),
    duplicatePosition: (i) => (i.positions as unknown[]).push(position("AAA", "1")),
    lowercasePosition: (i) => (i.positions as unknown[]).push(position("ccc", "1")),
    shortPosition: (i) => (i.positions as unknown[]).push(position("DDD", "-2", "-1")),
    badAvailable: (i) => (i.positions as unknown[]).push(position("DDD", "2", "3")),
    numberDecimals: (i) => Object.assign(i, { account: { equity: 2000, cash: 1000.5 } }),
    badAccount: (i) => Object.assign(i, { account: { equity: "-1", cash: "1" } }),
    forbiddenOption: (i) => Object.assign(i, { options: JSON.parse('{"__proto__":{"keep":[]}}') }),
    keepOption: (i) => Object.assign(i, { options: { keep: ["AAA"], rounding: "down" } }),
    stringDate: (i) =>
      Object.assign(i, {
        openOrders: [openOrder("o", "AAA", "buy", "1", { updatedAt: "2026-01-01T00:00:00Z" })],
      }),
    duplicateOrder: (i) =>
      Object.assign(i, {
        openOrders: [openOrder("o", "AAA", "buy", "1"), openOrder("o", "BBB", "buy", "1")],
      }),
    overfilled: (i) =>
      Object.assign(i, { openOrders: [openOrder("o", "AAA", "buy", "1", { filledQty: "2" })] }),
    assetRecord: (i) => Object.assign(i, { assets: { AAA: fractional("AAA"), BBB: wholeShares("BBB") } }),
    decimalInstances: (i) => Object.assign(i, { prices: { AAA: new Decimal(10), BBB: new Decimal("20.5") } }),
    // Positions and assets that hold decimals already are used as given: with and without
    // their optional fields, and with fields the schema reads differently or refuses.
    positionDecimals: (i) => {
      for (const p of entries(i.positions)) {
        p.qty = new Decimal(String(p.qty));
        p.qtyAvailable = new Decimal(String(p.qtyAvailable));
      }
    },
    positionOptional: (i) =>
      Object.assign(entries(i.positions)[0]!, {
        marketValue: new Decimal("1000"),
        avgEntryPrice: "9",
        currentPrice: new Decimal(10),
      }),
    positionNullOptional: (i) => Object.assign(entries(i.positions)[0]!, { currentPrice: null }),
    positionUndefinedOptional: (i) => Object.assign(entries(i.positions)[0]!, { marketValue: undefined }),
    positionHiddenKey: (i) => Object.defineProperty(entries(i.positions)[0]!, "extra", { value: 1 }),
    assetDecimals: (i) => {
      for (const a of entries(i.assets)) {
        a.qtyIncrement = new Decimal(String(a.qtyIncrement));
        if (a.minNotional !== undefined && a.minNotional !== null)
          a.minNotional = new Decimal(String(a.minNotional));
      }
    },
    assetNoMinimum: (i) => delete entries(i.assets)[0]!.minNotional,
    assetNullMinimum: (i) => Object.assign(entries(i.assets)[0]!, { minNotional: null }),
    assetNegativeMinimum: (i) => Object.assign(entries(i.assets)[0]!, { minNotional: new Decimal(-1) }),
    assetHiddenKey: (i) => Object.defineProperty(entries(i.assets)[1]!, "extra", { value: 1 }),
  };
  const names = Object.keys(defects);

  /** The objects of an array, or of a record (assets may be given either way). */
  function entries(v: unknown): Record<string, unknown>[] {
    return (Array.isArray(v) ? v : Object.values(v as object)) as Record<string, unknown>[];
  }

  function set(i: Input, path: string, key: string, value: unknown): void {
    let o: unknown = i;
    for (const p of path.split(".")) o = (o as Record<string, unknown>)[p];
    (o as Record<string, unknown>)[key] = value;
  }

  function slowParse(input: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
    try {
      return { ok: true, value: parseInput(RebalanceInputSchema, input, "rebalance") };
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
  }

  /** Fast and full parse of the base input with these defects: the same outcome, the same value. */
  function checkDefects(picked: readonly string[], withOrder: boolean): void {
    const input = baseInput({
      targets: { weights: { AAA: "0.5", BBB: 0.25 } },
      openOrders: withOrder ? [openOrder("o1", "AAA", "sell", "2")] : [],
    }) as Input;
    for (const name of picked) defects[name]!(input);
    const fast = fastParse(input);
    const slow = slowParse(input);
    if (fast !== undefined) {
      expect(slow.ok).toBe(true);
      expect(fast).toStrictEqual(slow.ok ? slow.value : undefined);
    }
    const via = (() => {
      try {
        return { ok: true, value: parseRebalanceInput(input) };
      } catch (e) {
        return { ok: false, message: (e as Error).message };
      }
    })();
    expect(via).toStrictEqual(slow);
  }

  it("property: the fast path accepts only what the schema accepts, and parses it the same", () => {
    fc.assert(fc.property(fc.subarray(names, { maxLength: 4 }), fc.boolean(), checkDefects), {
      numRuns: 1000,
    });
  });

  it("property: the same for positions and assets given as decimals, every mix of their fields", () => {
    // The objects given are used as they are when they hold the parsed decimals: every
    // combination of the defects that touch them, in the order of the list.
    const shapes = names.filter((n) => /^(position|asset)/.test(n) || n === "extraPosition");
    fc.assert(
      fc.property(fc.subarray(shapes), fc.boolean(), (picked, withOrder) => {
        checkDefects(["positionDecimals", "assetDecimals", ...picked], withOrder);
        checkDefects(picked, withOrder);
      }),
      { numRuns: 300 },
    );
  });
});

// The fast path reads the weights' sum as a float with an error bound, and sums as the schema
// does only near the limit: the answer must be the schema's, right at the limit too.
describe("the weight-sum check of the fast path", () => {
  const digits = fc.stringMatching(/^[1-9][0-9]{0,44}$/);
  // A weight in (0, 1): up to 45 digits after a point placed anywhere in the first 30 places.
  const weight = fc
    .tuple(digits, fc.integer({ min: 0, max: 30 }))
    .map(([d, lead]) => new Decimal(`0.${"0".repeat(lead)}${d}`));
  // How far the sum lands from 1 + 1e-9: exactly on it, a hair either side, or well away.
  const offset = fc.oneof(
    fc.constant("0"),
    fc.constantFrom("1e-40", "-1e-40", "1e-25", "-1e-25", "1e-17", "-1e-17", "3e-16", "-3e-16"),
    fc.constantFrom("1e-12", "-1e-12", "1e-10", "-1e-10", "2e-9", "-2e-9", "0.01", "-0.5"),
  );

  it("property: fast and full parse agree on weights summing near the limit", () => {
    fc.assert(
      fc.property(fc.array(weight, { minLength: 1, maxLength: 40 }), offset, (ws, off) => {
        // Scale the weights into [0, 0.9], then set the last so the sum is 1 + 1e-9 + offset.
        let sum = new Decimal(0);
        for (const w of ws) sum = sum.plus(w);
        const scaled = ws.map((w) => w.times("0.9").div(sum.times(ws.length + 1)));
        let rest = new Decimal(0);
        for (const w of scaled) rest = rest.plus(w);
        const last = new Decimal(1).plus("1e-9").plus(off).minus(rest);
        const weights: Record<string, Decimal> = {};
        scaled.forEach((w, i) => {
          weights[`W${i}`] = w;
        });
        weights.LAST = last;
        const input = baseInput({ targets: { weights } });
        const schema = RebalanceInputSchema.safeParse(input);
        const fast = fastParse(input);
        if (last.isNegative() || last.gt(1)) {
          expect(fast).toBeUndefined();
          return;
        }
        expect(fast !== undefined).toBe(schema.success);
        if (fast !== undefined) expect(fast).toStrictEqual(schema.data);
        // Through the public parse: accepted, or refused with the schema's error.
        if (schema.success) expect(parseRebalanceInput(input).targets).toStrictEqual(schema.data.targets);
        else expect(() => parseRebalanceInput(input)).toThrowError(/weights/);
      }),
      { numRuns: 600 },
    );
  });

  it("accepts a sum of exactly 1 + 1e-9, and refuses one 1e-30 above it as the schema does", () => {
    const at = baseInput({ targets: { weights: { AAA: "0.5", BBB: "0.500000001" } } });
    expect(fastParse(at)).toBeDefined();
    const above = baseInput({
      targets: { weights: { AAA: "0.5", BBB: "0.500000001000000000000000000001" } },
    });
    expect(fastParse(above)).toBeUndefined();
    expect(RebalanceInputSchema.safeParse(above).success).toBe(false);
    // 1e-40 above: the schema's 40-digit sum rounds it back onto the limit, and so does the fast path.
    const hair = baseInput({
      targets: { weights: { AAA: "0.5", BBB: "0.5000000010000000000000000000000000000001" } },
    });
    expect(RebalanceInputSchema.safeParse(hair).success).toBe(true);
    expect(fastParse(hair)).toBeDefined();
  });
});

// A record of prices or targets holding exactly the parsed decimals is used as given; any other
// value starts a copy from that key on. Either way the result is the schema's.
describe("the fast path's maps of decimals", () => {
  const value = fc.oneof(
    fc.integer({ min: 1, max: 10_000 }).map((n) => new Decimal(n).div(100)),
    fc.integer({ min: 1, max: 10_000 }).map((n) => String(n / 100)),
    fc.integer({ min: 1, max: 10_000 }).map((n) => n / 100),
    fc.constantFrom<Decimal | string | number>(new Decimal(0), new Decimal("-0"), "0", 0, -0),
  );

  it("property: prices and quantity targets parse as the schema parses them, in the same order", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[A-Z][A-Z0-9]{0,4}$/), { minLength: 1, maxLength: 12 }),
        fc.array(value, { minLength: 12, maxLength: 12 }),
        fc.array(value, { minLength: 12, maxLength: 12 }),
        (symbols, pv, qv) => {
          const prices: Record<string, Decimal | string | number> = {};
          const quantities: Record<string, Decimal | string | number> = {};
          symbols.forEach((s, i) => {
            // A price must be positive: a zero price is left out.
            const p = pv[i]!;
            if (!(p === 0 || p === "0" || (p instanceof Decimal && p.isZero()) || Object.is(p, -0)))
              prices[s] = p;
            quantities[s] = qv[i]!;
          });
          const input = baseInput({ prices, targets: { quantities } });
          const fast = fastParse(input);
          const schema = RebalanceInputSchema.parse(input);
          expect(fast).toStrictEqual(schema);
          expect(Object.keys(fast!.prices)).toEqual(Object.keys(schema.prices));
          // A zero is the schema's shared zero; a decimal given is used as it is.
          for (const [k, q] of Object.entries(fast!.targets.quantities!)) {
            if (q.isZero() || quantities[k] instanceof Decimal) expect(q).toBe(schema.targets.quantities![k]);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
