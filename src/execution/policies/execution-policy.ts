import { z } from "zod";
import { parseInput } from "../../core/validation.js";

/**
 * Every type of execution policy: a market order, one marketable limit with a collar, or
 * limits stepped from the mid toward the far touch.
 *
 * @example
 * ```ts
 * EXECUTION_POLICY_TYPES.includes("stepped_limit"); // true
 * ```
 */
export const EXECUTION_POLICY_TYPES = ["market", "marketable_limit", "stepped_limit"] as const;
/** A type of execution policy. */
export type ExecutionPolicyType = (typeof EXECUTION_POLICY_TYPES)[number];

/**
 * What a stepped limit does after its last step: send the rest as a market order (capped by
 * the slippage cap when there is one), leave the last limit working, or cancel it.
 *
 * @example
 * ```ts
 * FINAL_ACTIONS[0]; // "market"
 * ```
 */
export const FINAL_ACTIONS = ["market", "hold", "cancel"] as const;
/** What a stepped limit does after its last step. */
export type FinalAction = (typeof FINAL_ACTIONS)[number];

/**
 * What a leg does without a usable quote (none, one side missing, crossed, or stale): send a
 * market order (reported), skip the leg, or wait for one (then skip).
 *
 * @example
 * ```ts
 * NO_QUOTE_ACTIONS.includes("wait"); // true
 * ```
 */
export const NO_QUOTE_ACTIONS = ["market", "skip", "wait"] as const;
/** What a leg does without a usable quote. */
export type NoQuoteAction = (typeof NO_QUOTE_ACTIONS)[number];

/**
 * Where a stepped limit starts: at the mid, or at the near touch (a buy at the bid).
 *
 * @example
 * ```ts
 * STEP_STARTS[0]; // "mid"
 * ```
 */
export const STEP_STARTS = ["mid", "near"] as const;
/** Where a stepped limit starts. */
export type StepStart = (typeof STEP_STARTS)[number];

/**
 * What a leg does when the spread is wider than `maxSpreadBps`: wait for it to narrow (then
 * skip), or skip at once.
 *
 * @example
 * ```ts
 * SPREAD_ACTIONS[1]; // "skip"
 * ```
 */
export const SPREAD_ACTIONS = ["wait", "skip"] as const;
/** What a leg does above `maxSpreadBps`. */
export type SpreadAction = (typeof SPREAD_ACTIONS)[number];

/**
 * The defaults of every execution policy field, in one place.
 *
 * @remarks
 * - `type` stays `market`: the measurements in `docs/execution.md` show the limit policies
 *   cutting slippage, but a market order is what every existing run and report expects.
 * - `quoteMaxAgeMs`: a quote older than this is stale (not usable).
 * - `quoteWaitMs`: how long `onNoQuote: "wait"` and `spreadAction: "wait"` wait.
 * - `workMs`: how long a marketable limit works before the rest is cancelled.
 * - `pollMs`: how often a working order is read.
 * - `marketBuyBuffer`: the hold of a market buy above its price (Alpaca's 3%).
 * @example
 * ```ts
 * const collar = EXECUTION_POLICY_DEFAULTS.collarBps; // 10
 * ```
 */
export const EXECUTION_POLICY_DEFAULTS = {
  type: "market",
  collarBps: 10,
  steps: 4,
  stepMs: 5_000,
  startAt: "mid",
  finalAction: "market",
  spreadAction: "wait",
  onNoQuote: "wait",
  quoteMaxAgeMs: 60_000,
  quoteWaitMs: 10_000,
  workMs: 5_000,
  pollMs: 250,
  marketBuyBuffer: 0.03,
} as const;

const bps = z.number().finite().min(0).max(10_000);
const ms = z.number().int().min(1).max(3_600_000);

/** The fields every policy takes: the spread gate, the slippage cap, what to do without a quote. */
const common = {
  maxSpreadBps: bps.optional(),
  spreadAction: z.enum(SPREAD_ACTIONS).optional(),
  maxSlippageBps: bps.optional(),
  onNoQuote: z.enum(NO_QUOTE_ACTIONS).optional(),
  quoteMaxAgeMs: ms.optional(),
  quoteWaitMs: z.number().int().min(0).max(3_600_000).optional(),
  extendedHours: z.boolean().optional(),
};

/** Schema of an {@link ExecutionPolicy}. */
export const ExecutionPolicySchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("market"), ...common }).strict(),
  z
    .object({
      type: z.literal("marketable_limit"),
      collarBps: bps.optional(),
      workMs: ms.optional(),
      ...common,
    })
    .strict(),
  z
    .object({
      type: z.literal("stepped_limit"),
      steps: z.number().int().min(1).max(50).optional(),
      stepMs: ms.optional(),
      startAt: z.enum(STEP_STARTS).optional(),
      finalAction: z.enum(FINAL_ACTIONS).optional(),
      ...common,
    })
    .strict(),
]);

/**
 * How a leg is executed: `{ type: "market" }`; `{ type: "marketable_limit", collarBps }` (a
 * limit at the far touch plus the collar, worked `workMs` then cancelled);
 * `{ type: "stepped_limit", steps, stepMs, startAt, finalAction }` (from the mid or the near
 * touch to the far touch in `steps` steps `stepMs` apart, then `finalAction`). Each also takes
 * a spread gate (`maxSpreadBps`, `spreadAction`), a slippage cap against the arrival mid
 * (`maxSlippageBps`: no limit is ever set beyond it), `onNoQuote`, and `extendedHours`
 * (limit orders only: a market policy, a market final action or a market fallback is refused
 * for an extended-hours leg).
 *
 * @example
 * ```ts
 * const policy: ExecutionPolicyInput = { type: "stepped_limit", steps: 4, stepMs: 5_000, finalAction: "market", maxSpreadBps: 50 };
 * ```
 */
export type ExecutionPolicyInput = z.input<typeof ExecutionPolicySchema>;
/** A checked execution policy. */
export type ExecutionPolicy = z.output<typeof ExecutionPolicySchema>;

/**
 * Named policies: `market`; `marketable` (a marketable limit, 10 bps collar); `patient`
 * (mid → far touch in 4 steps of 5 s, then market); `passive` (mid → far touch in 6 steps
 * of 10 s, then cancel); `lumibot_smart` (Lumibot's SMART_LIMIT walk, 12 steps of ~10 s,
 * then market).
 *
 * @example
 * ```ts
 * executeLeg(leg, EXECUTION_PRESETS.patient, { broker, clock, runId });
 * ```
 */
export const EXECUTION_PRESETS = {
  market: { type: "market" },
  marketable: { type: "marketable_limit", collarBps: 10 },
  patient: { type: "stepped_limit", steps: 4, stepMs: 5_000, startAt: "mid", finalAction: "market" },
  passive: { type: "stepped_limit", steps: 6, stepMs: 10_000, startAt: "mid", finalAction: "cancel" },
  lumibot_smart: { type: "stepped_limit", steps: 12, stepMs: 10_000, startAt: "mid", finalAction: "market" },
} as const satisfies Record<string, ExecutionPolicyInput>;

/** The name of a preset of {@link EXECUTION_PRESETS}. */
export type ExecutionPresetName = keyof typeof EXECUTION_PRESETS;

/**
 * Checks a policy (or a preset's name) and refuses what cannot work: a market order in
 * extended hours.
 *
 * @param raw - a policy or the name of a preset
 * @returns the checked policy
 * @throws ValidationError (`validation`) for an unknown type or preset, a bad field, or an
 *   extended-hours policy that could send a market order
 * @example
 * ```ts
 * parseExecutionPolicy("patient").type; // "stepped_limit"
 * ```
 */
export function parseExecutionPolicy(raw: unknown): ExecutionPolicy {
  const input = typeof raw === "string" && raw in EXECUTION_PRESETS ? presetOf(raw) : raw;
  return parseInput(
    ExecutionPolicySchema.superRefine((p, ctx) => {
      if (p.extendedHours !== true) return;
      const sendsMarket =
        p.type === "market" ||
        (p.onNoQuote ?? EXECUTION_POLICY_DEFAULTS.onNoQuote) === "market" ||
        (p.type === "stepped_limit" && (p.finalAction ?? EXECUTION_POLICY_DEFAULTS.finalAction) === "market");
      if (sendsMarket) {
        ctx.addIssue({
          code: "custom",
          path: ["extendedHours"],
          message: "market orders are refused outside regular hours: use limit policies (no market fallback)",
        });
      }
    }),
    input,
    "execution",
  );
}

function presetOf(name: string): ExecutionPolicyInput | undefined {
  for (const [key, preset] of Object.entries(EXECUTION_PRESETS)) if (key === name) return preset;
  return undefined;
}
