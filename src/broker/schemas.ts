import { z } from "zod";
import { type Decimal, tryToDecimal } from "../core/decimal.js";
import { BrokerError } from "../core/errors.js";
import { isKeyOf } from "../core/guards.js";
import {
  describeIssues,
  findForbiddenKey,
  issuesFromZod,
  parseInput,
  showValue,
  zDate,
  zDecimal,
  zNonNegativeDecimal,
  zPositiveDecimal,
  zSymbol,
  zWithMethods,
} from "../core/validation.js";
import type {
  AccountSnapshot,
  AssetRules,
  BrokerCallArgs,
  BrokerCallReplies,
  BrokerCapabilities,
  BrokerMethod,
  BrokerPort,
  ListOrdersQuery,
  MarketClock,
  OrderRequest,
  OrderSnapshot,
  OrderUpdate,
  PositionSnapshot,
  Quote,
  ReplaceOrderChanges,
} from "./broker-port.js";
import {
  BROKER_ORDER_STATUSES,
  type BrokerCallKind,
  ORDER_LIST_STATUSES,
  ORDER_SIDES,
  ORDER_TYPES,
  ORDER_UPDATE_EVENTS,
  TIMES_IN_FORCE,
} from "./vocabulary.js";

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === null ? undefined : v), schema.optional());

/** Schema of an {@link AccountSnapshot}. */
export const AccountSnapshotSchema = z.object({
  cash: zDecimal,
  buyingPower: zDecimal,
  nonMarginableBuyingPower: optional(zDecimal),
  equity: zDecimal,
  currency: z.string().min(1),
  tradingBlocked: z.boolean(),
  asOf: zDate,
});

/** Schema of a {@link PositionSnapshot}; a long's `qtyAvailable` must lie in [0, qty]. */
export const PositionSnapshotSchema = z
  .object({
    symbol: zSymbol,
    qty: zDecimal,
    qtyAvailable: zDecimal,
    marketValue: optional(zDecimal),
    avgEntryPrice: optional(zNonNegativeDecimal),
    currentPrice: optional(zPositiveDecimal),
  })
  .superRefine((p, ctx) => {
    if (p.qty.gte(0)) {
      if (p.qtyAvailable.isNegative()) {
        ctx.addIssue({ code: "custom", path: ["qtyAvailable"], message: "expected a value ≥ 0" });
      } else if (p.qtyAvailable.gt(p.qty)) {
        ctx.addIssue({ code: "custom", path: ["qtyAvailable"], message: "expected a value ≤ qty" });
      }
    } else if (p.qtyAvailable.gt(0) || p.qtyAvailable.lt(p.qty)) {
      ctx.addIssue({
        code: "custom",
        path: ["qtyAvailable"],
        message: "expected a value in [qty, 0] for a short",
      });
    }
  });

/** Schema of {@link AssetRules}. */
export const AssetRulesSchema = z.object({
  symbol: zSymbol,
  tradable: z.boolean(),
  fractionable: z.boolean(),
  qtyIncrement: zPositiveDecimal,
  minNotional: optional(zNonNegativeDecimal),
});

/** Schema of a {@link MarketClock}. */
export const MarketClockSchema = z.object({
  isOpen: z.boolean(),
  nextOpen: zDate,
  nextClose: zDate,
  asOf: zDate,
});

const SideSchema = z.enum(ORDER_SIDES);
const TypeSchema = z.enum(ORDER_TYPES);
const TifSchema = z.enum(TIMES_IN_FORCE);
const StatusSchema = z.enum(BROKER_ORDER_STATUSES);

/** Schema of an {@link OrderSnapshot}. */
export const OrderSnapshotSchema = z
  .object({
    id: z.string().min(1),
    clientOrderId: z.string().min(1),
    symbol: zSymbol,
    side: SideSchema,
    type: TypeSchema,
    timeInForce: TifSchema,
    qty: optional(zPositiveDecimal),
    notional: optional(zPositiveDecimal),
    filledQty: zNonNegativeDecimal,
    filledAvgPrice: optional(zNonNegativeDecimal),
    limitPrice: optional(zPositiveDecimal),
    status: StatusSchema,
    createdAt: optional(zDate),
    updatedAt: zDate,
    rejectReason: optional(z.string()),
  })
  .superRefine((o, ctx) => {
    if (o.qty === undefined && o.notional === undefined) {
      ctx.addIssue({ code: "custom", path: ["qty"], message: "expected qty or notional" });
    }
    if (o.qty !== undefined && o.filledQty.gt(o.qty)) {
      ctx.addIssue({ code: "custom", path: ["filledQty"], message: "expected a value ≤ qty" });
    }
  });

const FillSchema = z.object({
  qty: zPositiveDecimal,
  price: zPositiveDecimal,
  executionId: optional(z.string().min(1)),
});

/** Schema of an {@link OrderUpdate}. */
export const OrderUpdateSchema = z.object({
  event: z.enum(ORDER_UPDATE_EVENTS),
  order: OrderSnapshotSchema,
  at: zDate,
  fill: optional(FillSchema),
});

/** A client order id as brokers accept it: 1 to 128 of letters, digits and `. _ : -`. */
export const zClientOrderId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, { message: "expected letters, digits and . _ : -" });

/**
 * The shape rules every order shares: exactly one of qty and notional, a limit price for a
 * limit order and none for a market order.
 *
 * @param r - the parsed order fields
 * @param ctx - the zod refinement context the issues go to
 */
export function refineOrderShape(
  r: {
    qty?: Decimal | undefined;
    notional?: Decimal | undefined;
    type: string;
    limitPrice?: Decimal | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if ((r.qty === undefined) === (r.notional === undefined)) {
    ctx.addIssue({ code: "custom", path: ["qty"], message: "expected exactly one of qty and notional" });
  }
  if (r.type === "limit" && r.limitPrice === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["limitPrice"],
      message: "expected a limit price for a limit order",
    });
  }
  if (r.type === "market" && r.limitPrice !== undefined) {
    ctx.addIssue({ code: "custom", path: ["limitPrice"], message: "a market order takes no limit price" });
  }
}

/** Schema of an {@link OrderRequest}: exactly one of qty and notional, a limit price for limit orders only. */
export const OrderRequestSchema = z
  .object({
    clientOrderId: zClientOrderId,
    symbol: zSymbol,
    side: SideSchema,
    type: TypeSchema,
    timeInForce: TifSchema,
    qty: optional(zPositiveDecimal),
    notional: optional(zPositiveDecimal),
    limitPrice: optional(zPositiveDecimal),
    extendedHours: optional(z.boolean()),
  })
  .strict()
  .superRefine(refineOrderShape);

/**
 * Schema of a {@link ListOrdersQuery}: a known `status`, dates, at least one symbol, a
 * positive integer `limit`, no other key.
 */
export const ListOrdersQuerySchema = z
  .object({
    status: z.enum(ORDER_LIST_STATUSES).optional(),
    after: zDate.optional(),
    until: zDate.optional(),
    symbols: z.array(zSymbol).min(1).readonly().optional(),
    limit: z.number().int().positive().optional(),
  })
  .strict();

/**
 * Schema of a {@link Quote}: bid and ask ≥ 0 (0: the side is missing), sizes ≥ 0, a date.
 * Crossed and stale quotes pass: whether one is usable is the caller's judgement.
 */
export const QuoteSchema = z.object({
  bid: zNonNegativeDecimal,
  ask: zNonNegativeDecimal,
  bidSize: optional(zNonNegativeDecimal),
  askSize: optional(zNonNegativeDecimal),
  asOf: zDate,
});

/**
 * Schema of {@link ReplaceOrderChanges}: a positive `qty`, a positive `limitPrice`, a client
 * order id as brokers accept it; at least one of them, no other key.
 */
export const ReplaceOrderChangesSchema = z
  .object({
    qty: optional(zPositiveDecimal),
    limitPrice: optional(zPositiveDecimal),
    clientOrderId: optional(zClientOrderId),
  })
  .strict()
  .refine((c) => c.qty !== undefined || c.limitPrice !== undefined || c.clientOrderId !== undefined, {
    message: "expected at least one of qty, limitPrice and clientOrderId",
    path: ["qty"],
  });

function parseReply<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const forbidden = findForbiddenKey(raw, what);
  if (forbidden !== undefined) {
    throw new BrokerError("protocol", `malformed ${what} from the broker: ${forbidden}: forbidden key`, {
      details: { path: forbidden },
    });
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issues = issuesFromZod(result.error, raw, what);
  throw new BrokerError("protocol", `malformed ${what} from the broker: ${describeIssues(issues)}`, {
    details: { issues: issues.map((i) => ({ path: i.path, message: i.message })) },
    cause: result.error,
  });
}

/**
 * Checks an account snapshot a port returned.
 *
 * @param raw - what the port returned
 * @returns a valid snapshot, with decimals and dates converted
 * @throws BrokerError (`protocol`) naming the malformed field
 */
export function parseAccountSnapshot(raw: unknown): AccountSnapshot {
  return parseReply(AccountSnapshotSchema, raw, "account");
}

/**
 * Checks one position a port returned.
 *
 * @param raw - what the port returned
 * @returns a valid position
 * @throws BrokerError (`protocol`) naming the malformed field (a NaN quantity, a negative
 *   `qtyAvailable`, `qtyAvailable > qty`, …)
 */
export function parsePositionSnapshot(raw: unknown): PositionSnapshot {
  return parseReply(PositionSnapshotSchema, raw, "position");
}

/**
 * Checks a position list; a symbol listed twice is refused.
 *
 * @param raw - what the port returned
 * @returns the valid positions
 * @throws BrokerError (`protocol`)
 */
export function parsePositionSnapshots(raw: unknown): PositionSnapshot[] {
  const list = parseReply(z.array(PositionSnapshotSchema), raw, "positions");
  assertUnique(
    list.map((p) => p.symbol),
    "positions",
  );
  return list;
}

/**
 * Checks asset rules a port returned.
 *
 * @param raw - what the port returned (an array)
 * @returns the valid rules
 * @throws BrokerError (`protocol`)
 */
export function parseAssetRules(raw: unknown): AssetRules[] {
  const list = parseReply(z.array(AssetRulesSchema), raw, "assets");
  assertUnique(
    list.map((a) => a.symbol),
    "assets",
  );
  return list;
}

/**
 * Checks a price map a port returned: every price > 0, every key a symbol.
 *
 * @param raw - a `Map<string, Decimal>` (a plain object is accepted too)
 * @returns a new map of valid prices
 * @throws BrokerError (`protocol`)
 */
export function parseLatestPrices(raw: unknown): Map<string, Decimal> {
  const entries = raw instanceof Map ? Object.fromEntries(raw) : raw;
  const record = parseReply(z.record(zSymbol, zPositiveDecimal), entries, "prices");
  return new Map(Object.entries(record));
}

/**
 * Checks a quote map a port returned: every key a symbol, every quote a {@link Quote}.
 *
 * @param raw - a `Map<string, Quote>` (a plain object is accepted too)
 * @returns a new map of valid quotes
 * @throws BrokerError (`protocol`) naming the malformed field
 * @example
 * ```ts
 * parseLatestQuotes(new Map([["SPY", { bid: "499.9", ask: "500.1", asOf: new Date(clock.now()) }]])).get("SPY")?.ask; // 500.1
 * ```
 */
export function parseLatestQuotes(raw: unknown): Map<string, Quote> {
  const entries = raw instanceof Map ? Object.fromEntries(raw) : raw;
  const record = parseReply(z.record(zSymbol, QuoteSchema), entries, "quotes");
  return new Map(Object.entries(record));
}

/**
 * Checks the changes of a `replaceOrder` call before it is sent.
 *
 * @param raw - the changes
 * @returns the valid changes with decimals converted
 * @throws ValidationError (`validation`) naming the offending field: no change at all, an
 *   unknown key, a quantity or limit price ≤ 0, a malformed client order id
 * @example
 * ```ts
 * parseReplaceOrderChanges({ limitPrice: "100.05" }).limitPrice; // Decimal 100.05
 * ```
 */
export function parseReplaceOrderChanges(raw: unknown): ReplaceOrderChanges {
  return parseInput(ReplaceOrderChangesSchema, raw, "changes");
}

/**
 * Checks a market clock a port returned.
 *
 * @param raw - what the port returned
 * @returns a valid clock
 * @throws BrokerError (`protocol`)
 */
export function parseMarketClock(raw: unknown): MarketClock {
  return parseReply(MarketClockSchema, raw, "clock");
}

/**
 * Checks an order snapshot a port returned.
 *
 * @param raw - what the port returned
 * @returns a valid order (an unknown status is refused, never passed on)
 * @throws BrokerError (`protocol`)
 */
export function parseOrderSnapshot(raw: unknown): OrderSnapshot {
  return parseReply(OrderSnapshotSchema, raw, "order");
}

/**
 * Checks an order list a port returned.
 *
 * @param raw - what the port returned
 * @returns the valid orders
 * @throws BrokerError (`protocol`)
 */
export function parseOrderSnapshots(raw: unknown): OrderSnapshot[] {
  return parseReply(z.array(OrderSnapshotSchema), raw, "orders");
}

/**
 * Checks an order update a port pushed.
 *
 * @param raw - what the port pushed
 * @returns a valid update
 * @throws BrokerError (`protocol`)
 */
export function parseOrderUpdate(raw: unknown): OrderUpdate {
  return parseReply(OrderUpdateSchema, raw, "order update");
}

/**
 * Checks an order request before it is sent.
 *
 * @param raw - the request
 * @returns the valid request with decimals converted
 * @throws ValidationError (`validation`) naming the offending field
 */
export function parseOrderRequest(raw: unknown): OrderRequest {
  return parseInput(OrderRequestSchema, raw, "order");
}

/**
 * Checks a `listOrders` query before it is sent.
 *
 * @param raw - the query (`undefined` reads as `{}`)
 * @returns the valid query (ISO strings given for `after` / `until` become dates)
 * @throws ValidationError (`validation`) naming the offending field: an unknown key or
 *   status, an invalid date, an empty or malformed `symbols`, a `limit` that is not a
 *   positive integer
 * @example
 * ```ts
 * parseListOrdersQuery({ status: "all", limit: 100 });
 * ```
 */
export function parseListOrdersQuery(raw: unknown): ListOrdersQuery {
  // A JS caller that passes nothing asks for the default (the open orders).
  return parseInput(ListOrdersQuerySchema, raw === undefined ? {} : raw, "query");
}

function assertUnique(symbols: string[], what: string): void {
  const seen = new Set<string>();
  for (const s of symbols) {
    if (seen.has(s)) {
      throw new BrokerError("protocol", `malformed ${what} from the broker: ${s} listed twice`, {
        details: { symbol: s },
      });
    }
    seen.add(s);
  }
}

/**
 * Checks a reply that may be null (a lookup that found nothing) with `parse`.
 *
 * @param parse - the parse helper of a found value
 * @returns a parser that returns null for null or undefined and checks anything else
 */
function nullOr<T>(parse: (raw: unknown) => T): (raw: unknown) => T | null {
  return (raw) => (raw === null || raw === undefined ? null : parse(raw));
}

/**
 * How an order a write returned differs from the request it answers: the client order id,
 * the symbol, the side, and the quantity or notional sent (each compared only when the
 * request gives it). A reply that differs is not the answer to this request: the order the
 * request placed may exist all the same.
 *
 * @param request - what was sent (read defensively: a JS caller may pass anything)
 * @param order - the checked reply
 * @returns one line per difference (`"qty: sent 10, reply 100"`); empty when they agree
 * @example
 * ```ts
 * orderReplyMismatches(request, { ...reply, qty: reply.qty?.times(10) }); // ["qty: sent 10, reply 100"]
 * ```
 */
export function orderReplyMismatches(request: OrderRequest, order: OrderSnapshot): string[] {
  const out: string[] = [];
  const same = (field: string, sent: unknown, got: unknown) => {
    if (sent !== got) out.push(`${field}: sent ${showValue(sent)}, reply ${showValue(got)}`);
  };
  same("clientOrderId", request.clientOrderId, order.clientOrderId);
  same("symbol", request.symbol, order.symbol);
  same("side", request.side, order.side);
  for (const field of ["qty", "notional"] as const) {
    const sent: unknown = request[field];
    if (sent === undefined || sent === null) continue;
    const want = tryToDecimal(sent);
    const got = order[field];
    if (want === undefined || got === undefined || !want.eq(got)) {
      out.push(`${field}: sent ${showValue(sent)}, reply ${showValue(got)}`);
    }
  }
  return out;
}

/** How one port call is made and its reply checked: a row of {@link BROKER_METHOD_TABLE}. */
export interface BrokerMethodSpec<M extends BrokerMethod> {
  /** `read` only looks; `write` may change state at the broker (an answer lost in flight: `ambiguous`). */
  readonly kind: BrokerCallKind;
  /**
   * For an optional member of the port: the capability that announces it. Wrappers forward
   * an optional member only when the port has it. Absent for the required members.
   */
  readonly capability?: keyof BrokerCapabilities;
  /**
   * Checks the port's reply and returns it as the contract types it (a malformed reply is
   * `BrokerError("protocol")`); null for a reply that carries nothing, which is passed on
   * as the port resolved it.
   */
  readonly reply: ((raw: unknown) => BrokerCallReplies[M]) | null;
  /**
   * Checks the caller's arguments before the port is called, for calls whose input the
   * contract defines as a value (a bad one: `ValidationError`, and the port is not called).
   * Absent: the arguments go to the port as given (a port checks its own input).
   */
  readonly args?: (args: BrokerCallArgs[M]) => BrokerCallArgs[M];
  /**
   * For a write whose reply names what it did: how the checked reply differs from the
   * call's arguments (one line per difference, empty when they agree). A reply that differs
   * answers some other request, so the call's own effect is unknown (`ambiguous`).
   */
  readonly mismatches?: (args: Readonly<BrokerCallArgs[M]>, reply: BrokerCallReplies[M]) => string[];
}

/** A row for every {@link BrokerMethod}: the compiler refuses a missing or an unknown one. */
export type BrokerMethodTable = { readonly [M in BrokerMethod]: BrokerMethodSpec<M> };

/**
 * Every port call, in a stable order: whether it reads or writes, whether it is an optional
 * member (and the capability announcing it), and the parse helper that checks its reply.
 * {@link BROKER_METHODS}, {@link zBrokerPort}, `checkBroker` and every other wrapper of a
 * port are derived from it, so a new member of the contract is one row here.
 *
 * @example
 * ```ts
 * BROKER_METHOD_TABLE.cancelOrder.kind; // "write"
 * BROKER_METHOD_TABLE.getOrder.reply?.(null); // null: the broker does not know the order
 * ```
 */
export const BROKER_METHOD_TABLE: BrokerMethodTable = {
  getAccount: { kind: "read", reply: parseAccountSnapshot },
  getPositions: { kind: "read", reply: parsePositionSnapshots },
  getPosition: { kind: "read", reply: nullOr(parsePositionSnapshot) },
  getAssets: { kind: "read", reply: parseAssetRules },
  getLatestPrices: { kind: "read", reply: parseLatestPrices },
  getClock: { kind: "read", reply: parseMarketClock },
  submitOrder: {
    kind: "write",
    reply: parseOrderSnapshot,
    mismatches: ([request], order) => orderReplyMismatches(request, order),
  },
  getOrder: { kind: "read", reply: nullOr(parseOrderSnapshot) },
  getOrderByClientOrderId: { kind: "read", reply: nullOr(parseOrderSnapshot) },
  listOpenOrders: { kind: "read", reply: parseOrderSnapshots },
  cancelOrder: { kind: "write", reply: null },
  closePosition: {
    kind: "write",
    reply: parseOrderSnapshot,
    // A close of a long sells, of a short buys: only the symbol is known in advance.
    mismatches: ([symbol], order) =>
      order.symbol === symbol ? [] : [`symbol: sent ${showValue(symbol)}, reply ${showValue(order.symbol)}`],
  },
  listOrders: {
    kind: "read",
    capability: "orderHistory",
    reply: parseOrderSnapshots,
    args: ([query, ...rest]) => [parseListOrdersQuery(query), ...rest],
  },
  getLatestQuotes: { kind: "read", capability: "quotes", reply: parseLatestQuotes },
  replaceOrder: {
    kind: "write",
    capability: "replace",
    reply: parseOrderSnapshot,
    args: ([orderId, changes, ...rest]) => [orderId, parseReplaceOrderChanges(changes), ...rest],
  },
};

/**
 * Every {@link BrokerMethod}, in the table's stable order.
 *
 * @example
 * ```ts
 * for (const m of BROKER_METHODS) console.log(m, counts[m]);
 * ```
 */
export const BROKER_METHODS: readonly BrokerMethod[] = Object.keys(BROKER_METHOD_TABLE).filter((m) =>
  isKeyOf(BROKER_METHOD_TABLE, m),
);

/** An injected {@link BrokerPort}: every required method of the contract. */
export const zBrokerPort = zWithMethods<BrokerPort>("a BrokerPort", [
  ...BROKER_METHODS.filter((m) => BROKER_METHOD_TABLE[m].capability === undefined),
  "subscribeOrderUpdates",
]);
