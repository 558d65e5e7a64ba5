import fc from "fast-check";

/**
 * Random execution policies: market, marketable limits, and stepped limits of up to `maxSteps`
 * steps ending in one of `finalActions` (a slippage cap on some).
 */
export function policyArb(
  finalActions: readonly ("market" | "hold" | "cancel")[],
  maxSteps: number,
  minCapBps: number,
) {
  return fc.oneof(
    fc.record({ type: fc.constant("market" as const) }),
    fc.record({
      type: fc.constant("marketable_limit" as const),
      collarBps: fc.integer({ min: 0, max: 30 }),
      workMs: fc.integer({ min: 500, max: 5_000 }),
    }),
    fc.record({
      type: fc.constant("stepped_limit" as const),
      steps: fc.integer({ min: 1, max: maxSteps }),
      stepMs: fc.integer({ min: 300, max: 3_000 }),
      startAt: fc.constantFrom("mid" as const, "near" as const),
      finalAction: fc.constantFrom(...finalActions),
      maxSlippageBps: fc.option(fc.integer({ min: minCapBps, max: 40 }), { nil: undefined }),
    }),
  );
}
