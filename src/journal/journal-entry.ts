import { z } from "zod";
import {
  BROKER_ORDER_STATUSES,
  FINAL_BROKER_STATUSES,
  ORDER_SIDES,
  ORDER_TYPES,
  TIMES_IN_FORCE,
} from "../broker/broker-port.js";
import { BROKER_ERROR_CODES } from "../core/errors.js";
import { parseInput, zDate, zDecimal, zSymbol } from "../core/validation.js";

// What a journal holds is a record of what the library meant and sent, and what the broker
// answered: never anything the library derived (positions rebuilt from fills, synthetic
// fills, reserved cash). See docs/journal.md for why.

/** The version of the entry format this library writes and reads. */
export const JOURNAL_ENTRY_VERSION = 1;

/** Every entry type, in the order a run writes them. */
export const JOURNAL_ENTRY_TYPES = [
  "run_start",
  "intent",
  "send",
  "answer",
  "final",
  "not_placed",
  "run_end",
] as const;
/** The type of a journal entry. */
export type JournalEntryType = (typeof JOURNAL_ENTRY_TYPES)[number];

/** The broker write calls a `send` entry precedes. */
export const SEND_OPS = ["submit", "cancel", "close", "replace"] as const;
/** A broker write call. */
export type SendOp = (typeof SEND_OPS)[number];

/**
 * What a broker answered to a write call: `accepted`; `refused` (it certainly did not take
 * effect: a refusal, or a failure such as `unavailable`), with the code; `ambiguous` (it may
 * have taken effect: a lookup must settle it).
 */
export const ANSWER_RESULTS = ["accepted", "refused", "ambiguous"] as const;
/** The kind of a broker's answer. */
export type AnswerResult = (typeof ANSWER_RESULTS)[number];

/**
 * How a run ended: `completed` (it ran to its report, whatever the report says),
 * `abandoned` (the caller gave it up without resuming it), `superseded` (a later run took
 * over its orders; `by` names it).
 */
export const RUN_OUTCOMES = ["completed", "abandoned", "superseded"] as const;
/** How a run ended. */
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

const MAX_TEXT = 500;
const MAX_ID = 128;

/**
 * A decimal as it is journaled: a plain string (`"12.5"`, never `"1.25e1"`). Accepts a
 * decimal, a numeric string or a finite number; writes `toFixed()`.
 */
const zDecimalText = zDecimal.transform((d): string => {
  const s = d.toFixed();
  return s === "-0" ? "0" : s;
});
const zPositiveText = zDecimal
  .refine((d) => d.gt(0), { message: "expected a value > 0" })
  .transform((d): string => d.toFixed());
const zNonNegativeText = zDecimal
  .refine((d) => d.gte(0), { message: "expected a value ≥ 0" })
  .transform((d): string => {
    const s = d.toFixed();
    return s === "-0" ? "0" : s;
  });
/** A time as it is journaled: an ISO-8601 string. Accepts a Date or an ISO string. */
const zTimeText = zDate.transform((d): string => d.toISOString());
/** An identifier: 1 to 128 characters, no control characters. */
const zId = z
  .string()
  .min(1)
  .max(MAX_ID)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .regex(/^[^\u0000-\u001f\u007f]+$/, { message: "expected no control characters" });
/** A free text, cut to 500 characters (a broker's message can be long). */
const zText = z.string().transform((s) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 1)}…` : s));
const zSide = z.enum(ORDER_SIDES);
const zOrderType = z.enum(ORDER_TYPES);
const zTif = z.enum(TIMES_IN_FORCE);
const zStatus = z.enum(BROKER_ORDER_STATUSES);
const zFinalStatus = zStatus.refine((s) => FINAL_BROKER_STATUSES.has(s), {
  message: "expected a final status",
});
const zErrorCode = z.enum(BROKER_ERROR_CODES);
const symbolMap = z.record(zSymbol, zDecimalText);

const base = {
  /** The entry format's version: 1. */
  v: z.literal(JOURNAL_ENTRY_VERSION),
  /** The run the entry belongs to. */
  runId: zId,
  /** When it was written (ms since the epoch, on the writer's clock). */
  at: z.number().int().nonnegative(),
};

/** An account as the broker reported it (decimals as strings). */
const AccountSchema = z
  .object({
    cash: zDecimalText,
    buyingPower: zDecimalText,
    nonMarginableBuyingPower: zDecimalText.optional(),
    equity: zDecimalText,
    currency: z.string().min(1).max(16),
    tradingBlocked: z.boolean(),
    asOf: zTimeText,
  })
  .strict();

/** A position as the broker reported it (decimals as strings). */
const PositionSchema = z
  .object({
    symbol: zSymbol,
    qty: zDecimalText,
    qtyAvailable: zDecimalText,
    marketValue: zDecimalText.optional(),
    avgEntryPrice: zDecimalText.optional(),
    currentPrice: zDecimalText.optional(),
  })
  .strict();

/** Exactly one of `qty` and `notional`. */
function oneSize(r: { qty?: string | undefined; notional?: string | undefined }, ctx: z.RefinementCtx) {
  if ((r.qty === undefined) === (r.notional === undefined)) {
    ctx.addIssue({ code: "custom", path: ["qty"], message: "expected exactly one of qty and notional" });
  }
}

/** An order request as sent (decimals as strings). */
const OrderRequestSchema = z
  .object({
    clientOrderId: zId,
    symbol: zSymbol,
    side: zSide,
    type: zOrderType,
    timeInForce: zTif,
    qty: zPositiveText.optional(),
    notional: zPositiveText.optional(),
    limitPrice: zPositiveText.optional(),
    extendedHours: z.boolean().optional(),
  })
  .strict()
  .superRefine(oneSize);

/** An order as the broker reported it (decimals as strings, times as ISO strings). */
const OrderSchema = z
  .object({
    id: zId,
    clientOrderId: zId,
    symbol: zSymbol,
    side: zSide,
    type: zOrderType,
    timeInForce: zTif,
    qty: zPositiveText.optional(),
    notional: zPositiveText.optional(),
    filledQty: zNonNegativeText,
    filledAvgPrice: zNonNegativeText.optional(),
    limitPrice: zPositiveText.optional(),
    status: zFinalStatus,
    createdAt: zTimeText.optional(),
    updatedAt: zTimeText,
    rejectReason: zText.optional(),
  })
  .strict();

/** Schema of a {@link RunStartEntry}. */
export const RunStartEntrySchema = z
  .object({
    ...base,
    type: z.literal("run_start"),
    /** The strategy the run trades for, when the caller named one. */
    strategyId: zId.optional(),
    /** The targets, as given: exactly one of weights, quantities, notionals. */
    targets: z.union([
      z.object({ weights: symbolMap }).strict(),
      z.object({ quantities: symbolMap }).strict(),
      z.object({ notionals: symbolMap }).strict(),
    ]),
    /** The options that shape the plan and the orders, as JSON (decimals as strings). */
    options: z.record(z.string(), z.json()),
    /** The account the run planned from, as the broker reported it. */
    account: AccountSchema,
    /** The positions the run planned from, as the broker reported them. */
    positions: z.array(PositionSchema),
  })
  .strict();

/** Schema of an {@link IntentEntry}. */
export const IntentEntrySchema = z
  .object({
    ...base,
    type: z.literal("intent"),
    symbol: zSymbol,
    side: zSide,
    qty: zPositiveText.optional(),
    notional: zPositiveText.optional(),
    orderType: zOrderType,
    limitPrice: zPositiveText.optional(),
    /** Why the leg exists (the planner's reason, such as `rebalance` or `exit`). */
    reason: z.string().min(1).max(64),
  })
  .strict()
  .superRefine(oneSize);

const sendBase = {
  ...base,
  type: z.literal("send"),
  /** Names this send within its run; the answer names it back. */
  sendId: zId,
};

/** Schema of a {@link SendEntry}: one variant per broker write call. */
export const SendEntrySchema = z.discriminatedUnion("op", [
  z.object({ ...sendBase, op: z.literal("submit"), request: OrderRequestSchema }).strict(),
  z.object({ ...sendBase, op: z.literal("cancel"), orderId: zId, clientOrderId: zId.optional() }).strict(),
  z.object({ ...sendBase, op: z.literal("close"), symbol: zSymbol }).strict(),
  z
    .object({
      ...sendBase,
      op: z.literal("replace"),
      orderId: zId,
      /** The order's symbol and side: a take-over follows the new order by its client order id. */
      symbol: zSymbol,
      side: zSide,
      changes: z
        .object({
          qty: zPositiveText.optional(),
          limitPrice: zPositiveText.optional(),
          clientOrderId: zId.optional(),
        })
        .strict(),
    })
    .strict(),
]);

const answerBase = { ...base, type: z.literal("answer"), sendId: zId };

/** Schema of an {@link AnswerEntry}: one variant per {@link AnswerResult}. */
export const AnswerEntrySchema = z.discriminatedUnion("result", [
  z
    .object({
      ...answerBase,
      result: z.literal("accepted"),
      /** The order the call made or touched, when it returned one (a cancel returns none). */
      order: z
        .object({ id: zId, clientOrderId: zId.optional(), status: zStatus, filledQty: zNonNegativeText })
        .strict()
        .optional(),
    })
    .strict(),
  z
    .object({
      ...answerBase,
      result: z.literal("refused"),
      code: zErrorCode,
      brokerCode: z.string().max(64).optional(),
      message: zText.optional(),
    })
    .strict(),
  z.object({ ...answerBase, result: z.literal("ambiguous"), message: zText.optional() }).strict(),
]);

/** Schema of a {@link FinalEntry}. */
export const FinalEntrySchema = z
  .object({ ...base, type: z.literal("final"), order: OrderSchema })
  .strict()
  .superRefine((e, ctx) => oneSize(e.order, ctx));

/**
 * Schema of a {@link NotPlacedEntry}: a submit no answer settled, found absent from the
 * broker's orders once the never-placed window had passed since it was sent.
 */
export const NotPlacedEntrySchema = z
  .object({
    ...base,
    type: z.literal("not_placed"),
    /** The send it settles (its run's last send under the client order id). */
    sendId: zId,
    /** The client order id the broker never received. */
    clientOrderId: zId,
    /** The run that looked it up and wrote this. */
    by: zId,
    /** The window that had passed since the send (ms). */
    afterMs: z.number().int().nonnegative(),
  })
  .strict();

/** Schema of a {@link RunEndEntry}. */
export const RunEndEntrySchema = z
  .object({
    ...base,
    type: z.literal("run_end"),
    outcome: z.enum(RUN_OUTCOMES),
    /** For `superseded`: the run that took over. */
    by: zId.optional(),
    note: zText.optional(),
  })
  .strict();

/**
 * Schema of a {@link JournalEntry}: a union discriminated on `type` (and on `op` for sends,
 * `result` for answers). Parsing normalises decimals to plain strings and times to ISO
 * strings, so a parsed entry is plain JSON.
 */
export const JournalEntrySchema = z.discriminatedUnion("type", [
  RunStartEntrySchema,
  IntentEntrySchema,
  SendEntrySchema,
  AnswerEntrySchema,
  FinalEntrySchema,
  NotPlacedEntrySchema,
  RunEndEntrySchema,
]);

/** A run begins: what it was asked for and the broker state it planned from. */
export type RunStartEntry = z.output<typeof RunStartEntrySchema>;
/** One leg the run means to trade. */
export type IntentEntry = z.output<typeof IntentEntrySchema>;
/** A broker write call about to be made (written durably before the call). */
export type SendEntry = z.output<typeof SendEntrySchema>;
/** The broker's answer to a send. */
export type AnswerEntry = z.output<typeof AnswerEntrySchema>;
/** An order's final state, as the broker reported it. */
export type FinalEntry = z.output<typeof FinalEntrySchema>;
/**
 * A send that never reached the broker: written by the run that took it over, once its
 * client order id was absent from the broker's orders `afterMs` after the send (see
 * `docs/journal.md`). The order is not looked for again; its leg may be planned again under
 * the next client order id.
 */
export type NotPlacedEntry = z.output<typeof NotPlacedEntrySchema>;
/** A run is over (written by `finishRun`). */
export type RunEndEntry = z.output<typeof RunEndEntrySchema>;
/** One journal entry: plain JSON, decimals as strings. */
export type JournalEntry = z.output<typeof JournalEntrySchema>;

type Draft<T> = T extends unknown
  ? Omit<T, "v" | "at"> & { v?: typeof JOURNAL_ENTRY_VERSION; at?: number }
  : never;

/**
 * An entry as a writer hands it to `JournalStore.append`: decimals may be `Decimal`s,
 * numbers or strings and times `Date`s; `v` and `at` may be left out (the store stamps them
 * with its clock). `run_end` is written by `finishRun` only.
 */
export type JournalEntryInput = Draft<Exclude<z.input<typeof JournalEntrySchema>, { type: "run_end" }>>;

/**
 * Parses one journal entry (a stored line's content, or a writer's input with `v` and `at`).
 *
 * @param raw - the value to check
 * @returns the entry, decimals as plain strings and times as ISO strings
 * @throws ValidationError (`validation`) naming each offending path and value
 * @example
 * ```ts
 * const e = parseJournalEntry(JSON.parse(line));
 * if (e.type === "send" && e.op === "submit") console.log(e.request.clientOrderId);
 * ```
 */
export function parseJournalEntry(raw: unknown): JournalEntry {
  return parseInput(JournalEntrySchema, raw, "entry");
}
