import { z } from "zod";
import { refineOrderShape, zClientOrderId } from "../broker/schemas.js";
import type { Decimal } from "../core/decimal.js";
import { parseInput, zPositiveDecimal, zSymbol } from "../core/validation.js";

/**
 * Schema of an {@link OrderIntent}: one order the caller wants, before it is validated,
 * reserved and submitted.
 *
 * @remarks
 * Exactly one of `qty` and `notional`; `limitPrice` is required for a limit order and
 * refused for a market order; a notional order must be a market order (the broker rule).
 * Unknown keys are refused.
 */
export const OrderIntentSchema = z
  .object({
    symbol: zSymbol,
    side: z.enum(["buy", "sell"]),
    qty: zPositiveDecimal.optional(),
    notional: zPositiveDecimal.optional(),
    type: z.enum(["market", "limit"]),
    limitPrice: zPositiveDecimal.optional(),
    timeInForce: z.enum(["day", "gtc", "ioc", "fok", "opg", "cls"]),
    clientOrderId: zClientOrderId.optional(),
    extendedHours: z.boolean().optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    refineOrderShape(r, ctx);
    if (r.notional !== undefined && r.type !== "market") {
      ctx.addIssue({
        code: "custom",
        path: ["notional"],
        message: "a notional order must be a market order",
      });
    }
  });

/**
 * One order the caller wants: what {@link PreOrderValidator} checks, what
 * {@link BuyingPowerManager.reserve} reserves for, and what the execution layer submits.
 *
 * @remarks
 * All amounts are ordersafe {@link Decimal}s once parsed. `clientOrderId` is the
 * reservation key when present.
 */
export interface OrderIntent {
  /** The ticker. */
  symbol: string;
  /** Buy or sell. */
  side: "buy" | "sell";
  /** Shares; exactly one of `qty` and `notional`. */
  qty?: Decimal;
  /** Dollars (a fractional market order); exactly one of `qty` and `notional`. */
  notional?: Decimal;
  /** Market or limit. */
  type: "market" | "limit";
  /** Required for a limit order, refused for a market order. */
  limitPrice?: Decimal;
  /** Time in force; fractional and notional orders must be `day`. */
  timeInForce: "day" | "gtc" | "ioc" | "fok" | "opg" | "cls";
  /** The client order id the order will carry (the reservation key). */
  clientOrderId?: string;
  /** Whether the order may execute in extended hours. */
  extendedHours?: boolean;
}

/** What callers may pass as an {@link OrderIntent}: decimals as `Decimal`, numeric strings or finite numbers. */
export type OrderIntentInput = z.input<typeof OrderIntentSchema>;

/**
 * Validates an order intent.
 *
 * @param input - the caller's intent
 * @param root - the name of the value in error messages
 * @returns the intent with decimals parsed
 * @throws ValidationError (`validation`) naming the offending path and value
 * @example
 * ```ts
 * const intent = parseOrderIntent({ symbol: "TECL", side: "buy", qty: 10, type: "market", timeInForce: "day" });
 * ```
 */
export function parseOrderIntent(input: unknown, root = "intent"): OrderIntent {
  return parseInput(OrderIntentSchema, input, root);
}
