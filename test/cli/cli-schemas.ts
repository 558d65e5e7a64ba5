// The contract of the command's --json output, written apart from the code that makes it.
import { z } from "zod";

const dec = z.string().regex(/^-?\d+(\.\d+)?$/);

export const PlanOutputSchema = z
  .object({
    legs: z.array(
      z
        .object({
          symbol: z.string(),
          side: z.enum(["buy", "sell"]),
          action: z.enum(["enter", "add", "trim", "exit"]),
          qty: dec.nullable(),
          notional: dec.nullable(),
          closePosition: z.boolean(),
          price: dec,
          estimatedNotional: dec,
          reason: z.string(),
          shrunk: z.boolean(),
        })
        .strict(),
    ),
    skipped: z.array(z.object({ symbol: z.string(), reason: z.string(), detail: z.string() }).strict()),
    conflicts: z.array(
      z
        .object({ symbol: z.string(), orderId: z.string(), side: z.enum(["buy", "sell"]), unfilledQty: dec })
        .strict(),
    ),
    summary: z
      .object({
        turnover: dec,
        naiveTurnover: dec,
        savedTurnover: dec,
        orderCount: z.number().int(),
        naiveOrderCount: z.number().int(),
        cash: dec,
        availableForBuys: dec,
      })
      .strict(),
  })
  .strict();

export const PlanCommandSchema = z
  .object({ hash: z.string().regex(/^[0-9a-f]{12}$/), plan: PlanOutputSchema })
  .strict();

const OrderOutcomeSchema = z.object({
  symbol: z.string(),
  side: z.enum(["buy", "sell"]),
  clientOrderId: z.string(),
  orderId: z.string().nullable(),
  filledQty: dec,
  filledNotional: dec,
  state: z.enum([
    "filled",
    "canceled",
    "expired",
    "rejected",
    "replaced",
    "done_for_day",
    "submit_failed",
    "unresolved",
  ]),
  attempts: z.number().int(),
});

export const RebalanceCommandSchema = z.discriminatedUnion("sent", [
  z
    .object({
      hash: z.string().regex(/^[0-9a-f]{12}$/),
      approved: z.literal(false),
      sent: z.literal(false),
      reason: z.string(),
      plan: PlanOutputSchema,
      report: z.null(),
    })
    .strict(),
  z
    .object({
      hash: z.string().regex(/^[0-9a-f]{12}$/),
      approved: z.literal(true),
      sent: z.literal(true),
      plan: PlanOutputSchema,
      report: z.object({
        runId: z.string(),
        status: z.enum(["completed", "completed_adjusted", "failed", "halted"]),
        orders: z.array(OrderOutcomeSchema),
        metrics: z.object({
          turnover: dec,
          naiveTurnover: dec,
          savedTurnover: dec,
          ordersSubmitted: z.number().int(),
        }),
        error: z.object({ code: z.string(), message: z.string() }).nullable(),
      }),
    })
    .strict(),
]);

export const ReconcileCommandSchema = z
  .object({
    mode: z.enum(["report", "approve", "auto"]),
    bookCreated: z.boolean(),
    positionsChecked: z.number().int(),
    drifts: z.array(
      z.object({
        symbol: z.string(),
        expectedQty: dec,
        actualQty: dec,
        qtyDiff: dec,
        class: z.enum(["in_flight", "missed_fill", "phantom", "unknown", "dust", "unexplained"]),
        withinTolerance: z.boolean(),
      }),
    ),
    actions: z.array(
      z
        .object({
          id: z.string(),
          kind: z.enum(["adopt", "order"]),
          symbol: z.string(),
          driftClass: z.string(),
          fromQty: dec,
          toQty: dec,
          notional: dec.nullable(),
          status: z.string(),
          reason: z.string().nullable(),
        })
        .strict(),
    ),
    alerts: z.array(z.object({ reason: z.string(), symbol: z.string(), message: z.string() }).strict()),
  })
  .strict();
