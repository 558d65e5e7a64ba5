import type { LegAction } from "./rebalance-plan.js";
import { floorSteps, minBig } from "./scaled.js";

/** What a sell is sized from (shares at scale Q, dollars at scale M, the price at scale P). */
export interface SellSizing {
  /** The reference price. */
  readonly price: bigint;
  /** Shares held. */
  readonly held: bigint;
  /** Shares not held by open sells (`qtyAvailable`). */
  readonly available: bigint;
  /** Held less the unfilled open sells. */
  readonly projected: bigint;
  /** The target. */
  readonly target: bigint;
  /** The order increment. */
  readonly increment: bigint;
  /** The smallest order, in dollars. */
  readonly minNotional: bigint;
  /** Whether the sell is a full exit (the target is zero or within the exit tolerance). */
  readonly isExit: boolean;
  /** Whether the broker's `closePosition` may be used (it exists and no sell is open). */
  readonly closePositionAllowed: boolean;
  /** 1e-9 share: an order's quantity has at most 9 decimals. */
  readonly nano: bigint;
  /** Whether a trim goes to the nearest increment (else it is rounded down). */
  readonly nearest?: boolean | undefined;
}

/**
 * A sell's size: an `order` of `qty` shares (a `trim`, or an `exit` of all that is left), a
 * `close` of the whole position by the broker's `closePosition` (its quantity cannot be an
 * order), or `none` with the reason.
 */
export type SellSize =
  | { readonly kind: "order"; readonly qty: bigint; readonly action: Extract<LegAction, "trim" | "exit"> }
  | { readonly kind: "close"; readonly qty: bigint }
  | { readonly kind: "none"; readonly detail: string };

/**
 * Sizes a sell: a trim to the nearest increment (up only when more than half of one is left
 * over), never above the shares available, at least the minimum notional. A full exit sells exactly what is not held by open sells, by
 * `closePosition` when that cannot be an order, or else the part that can (the dust stays).
 *
 * @param s - what the sell is sized from
 * @returns the size, or `none` with the reason for the skip
 * @example
 * ```ts
 * sizeSell({ price, held, available: held, projected: held, target, increment, minNotional,
 *   isExit: false, closePositionAllowed: true, nano }); // { kind: "order", qty, action: "trim" }
 * ```
 */
export function sizeSell(s: SellSizing): SellSize {
  return s.isExit ? sizeExit(s) : sizeTrim(s);
}

function sizeExit(s: SellSizing): SellSize {
  const { price, increment, minNotional } = s;
  // A full exit sells exactly what is not already held by open sells.
  const qty = minBig(s.projected, s.available);
  const orderable = qty > 0n && qty % s.nano === 0n && qty % increment === 0n && qty * price >= minNotional;
  if (orderable) return { kind: "order", qty, action: "exit" };
  if (s.closePositionAllowed && qty > 0n && qty === s.held) return { kind: "close", qty };
  // Without closePosition, sell what can be an order and leave the dust.
  const part = minBig(floorSteps(qty, increment) * increment, qty);
  if (part > 0n && part * price >= minNotional) return { kind: "order", qty: part, action: "trim" };
  return {
    kind: "none",
    detail: "the position is dust that cannot be an order and closePosition is unavailable",
  };
}

function sizeTrim(s: SellSizing): SellSize {
  const { increment, available } = s;
  // To the nearest increment: up when more than half of one is left over (the holding then
  // ends under the target by less than half an increment, not over it by more than half).
  const excess = s.projected - s.target;
  let steps = floorSteps(excess, increment);
  if (s.nearest === true && 2n * (excess - steps * increment) > increment) steps += 1n;
  let qty = steps * increment;
  if (qty > available) {
    // Capped at the shares not held by open sells, on the increment and never above them.
    qty = minBig(floorSteps(available, increment) * increment, available);
  }
  if (qty <= 0n) return { kind: "none", detail: "less than one increment" };
  if (qty * s.price < s.minNotional) return { kind: "none", detail: "below the minimum order notional" };
  return { kind: "order", qty, action: "trim" };
}
