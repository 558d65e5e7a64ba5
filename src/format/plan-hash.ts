import { createHash } from "node:crypto";
import type { RebalancePlan } from "../rebalance/rebalance-plan.js";

/** The length of a plan hash, in hex characters. */
export const PLAN_HASH_LENGTH = 12;

/**
 * A short fingerprint of what a plan would send: each leg's symbol, side, quantity or
 * notional and `closePosition`, and each conflicting order to cancel, in order (SHA-256, the
 * first {@link PLAN_HASH_LENGTH} hex characters). Two plans with the same hash send the same
 * orders; prices and estimates do not count.
 *
 * @param plan - the plan
 * @returns the hash, lowercase hex
 * @example
 * ```ts
 * const hash = planHash(await rebalancer.plan(targets));
 * ```
 */
export function planHash(plan: RebalancePlan): string {
  const canonical = {
    legs: plan.legs.map((l) => [
      l.symbol,
      l.side,
      l.qty?.toFixed() ?? null,
      l.notional?.toFixed() ?? null,
      l.closePosition,
    ]),
    conflicts: plan.conflicts.map((c) => [c.symbol, c.orderId]),
  };
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex").slice(0, PLAN_HASH_LENGTH);
}
