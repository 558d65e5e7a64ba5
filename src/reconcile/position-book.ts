import { z } from "zod";
import type { OrderSide, OrderSnapshot, OrderUpdate } from "../broker/broker-port.js";
import { OrderSnapshotSchema, OrderUpdateSchema } from "../broker/schemas.js";
import { type Decimal, type DecimalLike, ZERO } from "../core/decimal.js";
import { ValidationError } from "../core/errors.js";
import { parseInput, zDecimal, zNonNegativeDecimal, zPositiveDecimal, zSymbol } from "../core/validation.js";

/** A fill to apply to a {@link PositionBook}. At least one of `cumulativeQty` and `qty`. */
export interface BookFill {
  /** The broker's order id. */
  orderId: string;
  /** The symbol. */
  symbol: string;
  /** Buy adds, sell subtracts. */
  side: OrderSide;
  /** The order's cumulative filled quantity after this fill: the preferred deduplication key. */
  cumulativeQty?: DecimalLike;
  /** This fill's own quantity (used when `cumulativeQty` is absent). */
  qty?: DecimalLike;
  /** The broker's execution id: a fill seen before is ignored. */
  executionId?: string;
}

/** What applying a fill did. */
export interface BookFillResult {
  /** Whether the position changed. */
  applied: boolean;
  /** The change to the position (signed; zero when nothing was applied). */
  delta: Decimal;
  /** The position after. */
  position: Decimal;
  /** The order's cumulative applied quantity after. */
  appliedQty: Decimal;
}

/** What the book knows about one order. */
export interface BookOrderRecord {
  /** The symbol. */
  symbol: string;
  /** The side. */
  side: OrderSide;
  /** Shares of this order applied so far (cumulative). */
  appliedQty: Decimal;
  /** Execution ids seen. */
  executionIds: readonly string[];
}

/** The serialized form of a {@link PositionBook}: decimals as strings. */
export interface PositionBookJSON {
  /** Format version. */
  version: 1;
  /** Symbol → quantity. */
  positions: Record<string, string>;
  /** Order id → what was applied. */
  orders: Record<string, { symbol: string; side: OrderSide; appliedQty: string; executionIds: string[] }>;
}

const FillSchema = z
  .object({
    orderId: z.string().min(1),
    symbol: zSymbol,
    side: z.enum(["buy", "sell"]),
    cumulativeQty: zNonNegativeDecimal.optional(),
    qty: zPositiveDecimal.optional(),
    executionId: z.string().min(1).optional(),
  })
  .strict()
  .refine((f) => f.cumulativeQty !== undefined || f.qty !== undefined, {
    message: "expected cumulativeQty or qty",
    path: ["cumulativeQty"],
  });

const JsonSchema = z
  .object({
    version: z.literal(1),
    positions: z.record(zSymbol, zDecimal),
    orders: z.record(
      z.string().min(1),
      z
        .object({
          symbol: zSymbol,
          side: z.enum(["buy", "sell"]),
          appliedQty: zNonNegativeDecimal,
          executionIds: z.array(z.string().min(1)),
        })
        .strict(),
    ),
  })
  .strict();

const PositionsSchema = z.union([z.map(zSymbol, zDecimal), z.record(zSymbol, zDecimal)]);

interface OrderState {
  symbol: string;
  side: OrderSide;
  applied: Decimal;
  executionIds: Set<string>;
}

/**
 * The positions the bot expects to hold, kept from the fills it is told about, idempotently.
 *
 * @remarks
 * Each fill is deduplicated twice: by execution id (a fill seen before changes nothing) and by
 * the order's cumulative filled quantity (only the part above what was already applied for
 * that order counts). Applying the same update twice, out of order, or from both the stream
 * and a REST snapshot leaves the same positions as applying each fill once. Zero positions are
 * dropped. `toJSON()` / `PositionBook.fromJSON()` persist it.
 *
 * @example
 * ```ts
 * const book = new PositionBook({ FNGU: "1591.166892" });
 * book.applyFill({ orderId: "o1", symbol: "FNGU", side: "sell", cumulativeQty: "711" });
 * book.applyFill({ orderId: "o1", symbol: "FNGU", side: "sell", cumulativeQty: "711" }); // no-op
 * book.position("FNGU").toString(); // "880.166892"
 * ```
 */
export class PositionBook {
  private readonly held = new Map<string, Decimal>();
  private readonly orderStates = new Map<string, OrderState>();

  /**
   * @param positions - the starting positions (symbol → quantity, negative for a short)
   * @throws ValidationError (`validation`) for a malformed symbol or quantity
   */
  constructor(positions: ReadonlyMap<string, DecimalLike> | Readonly<Record<string, DecimalLike>> = {}) {
    const parsed = parseInput(PositionsSchema, positions, "positions");
    const entries = parsed instanceof Map ? [...parsed] : Object.entries(parsed);
    for (const [symbol, qty] of entries) this.put(symbol, qty);
  }

  /**
   * A position.
   *
   * @param symbol - the symbol
   * @returns the expected quantity; zero when none
   */
  position(symbol: string): Decimal {
    return this.held.get(symbol) ?? ZERO;
  }

  /**
   * Every non-zero position.
   *
   * @returns a copy, symbol → quantity, sorted by symbol
   */
  positions(): Map<string, Decimal> {
    return new Map([...this.held].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /**
   * Shares of an order the book has applied.
   *
   * @param orderId - the broker's order id
   * @returns the cumulative applied quantity; zero for an order never seen
   */
  appliedQty(orderId: string): Decimal {
    return this.orderStates.get(orderId)?.applied ?? ZERO;
  }

  /**
   * The applied quantity of every order seen, for `detectPositionDrift`'s `applied` option.
   *
   * @returns order id → cumulative applied quantity
   */
  appliedFills(): Map<string, Decimal> {
    return new Map([...this.orderStates].map(([id, s]) => [id, s.applied]));
  }

  /**
   * What the book knows about an order.
   *
   * @param orderId - the broker's order id
   * @returns the record, or undefined for an order never seen
   */
  order(orderId: string): BookOrderRecord | undefined {
    const s = this.orderStates.get(orderId);
    if (s === undefined) return undefined;
    return { symbol: s.symbol, side: s.side, appliedQty: s.applied, executionIds: [...s.executionIds] };
  }

  /**
   * Applies a fill, once.
   *
   * @param fill - order id, symbol, side, and the cumulative quantity and/or this fill's quantity
   * @returns whether it changed the position, by how much, and the position after
   * @throws ValidationError (`validation`) for a malformed fill, or an order id seen before with
   *   another symbol or side (nothing is changed)
   * @example
   * ```ts
   * book.applyFill({ orderId: "o1", symbol: "TECL", side: "buy", qty: "5", executionId: "e1" });
   * ```
   * @remarks With `cumulativeQty` the change is `cumulativeQty − applied` when positive, else
   *   nothing (a repeated or older fill). Without it, `qty` is added once per execution id; a
   *   fill with neither a cumulative quantity nor an execution id cannot be deduplicated and is
   *   applied every time.
   */
  applyFill(fill: BookFill): BookFillResult {
    const f = parseInput(FillSchema, fill, "fill");
    const state = this.stateFor(f.orderId, f.symbol, f.side, "fill");
    const unchanged = (): BookFillResult => ({
      applied: false,
      delta: ZERO,
      position: this.position(f.symbol),
      appliedQty: state?.applied ?? ZERO,
    });
    if (state !== undefined && f.executionId !== undefined && state.executionIds.has(f.executionId)) {
      return unchanged();
    }
    const before = state?.applied ?? ZERO;
    // The schema requires one of the two; the cumulative quantity wins.
    const step = f.cumulativeQty?.minus(before) ?? f.qty ?? ZERO;
    const s: OrderState = state ?? {
      symbol: f.symbol,
      side: f.side,
      applied: ZERO,
      executionIds: new Set(),
    };
    if (state === undefined) this.orderStates.set(f.orderId, s);
    if (f.executionId !== undefined) s.executionIds.add(f.executionId);
    if (step.lte(0)) return unchanged();
    s.applied = before.plus(step);
    const delta = f.side === "buy" ? step : step.neg();
    this.put(f.symbol, this.position(f.symbol).plus(delta));
    return { applied: true, delta, position: this.position(f.symbol), appliedQty: s.applied };
  }

  /**
   * Brings the book up to an order snapshot's cumulative `filledQty` (idempotent).
   *
   * @param order - an order as the broker reports it
   * @returns what applying it did
   * @throws ValidationError (`validation`) for a malformed snapshot
   * @example
   * ```ts
   * book.applyOrderSnapshot(await broker.getOrder(id));
   * ```
   */
  applyOrderSnapshot(order: OrderSnapshot): BookFillResult {
    const o = parseInput(OrderSnapshotSchema, order, "order");
    return this.applyFill({ orderId: o.id, symbol: o.symbol, side: o.side, cumulativeQty: o.filledQty });
  }

  /**
   * Applies a streamed order update: its cumulative `filledQty`, deduplicated by the fill's
   * execution id too. Updates without fills (a `new`, a `canceled` with nothing filled) only
   * register the order.
   *
   * @param update - an update from `subscribeOrderUpdates`
   * @returns what applying it did
   * @throws ValidationError (`validation`) for a malformed update
   * @example
   * ```ts
   * broker.subscribeOrderUpdates({ onUpdate: (u) => book.applyOrderUpdate(u) });
   * ```
   */
  applyOrderUpdate(update: OrderUpdate): BookFillResult {
    const u = parseInput(OrderUpdateSchema, update, "update");
    const fill: BookFill = {
      orderId: u.order.id,
      symbol: u.order.symbol,
      side: u.order.side,
      cumulativeQty: u.order.filledQty,
    };
    if (u.fill?.executionId !== undefined) fill.executionId = u.fill.executionId;
    return this.applyFill(fill);
  }

  /**
   * Sets a position outright (adopting the broker's figure). Order records are kept.
   *
   * @param symbol - the symbol
   * @param qty - the new quantity; zero removes it
   * @returns the previous quantity
   * @throws ValidationError (`validation`) for a malformed symbol or quantity
   * @example
   * ```ts
   * book.setPosition("FNGU", "880.166892");
   * ```
   */
  setPosition(symbol: string, qty: DecimalLike): Decimal {
    const p = parseInput(z.object({ symbol: zSymbol, qty: zDecimal }), { symbol, qty }, "position");
    const before = this.position(p.symbol);
    this.put(p.symbol, p.qty);
    return before;
  }

  /**
   * Records that an order's fills up to `cumulativeQty` are already reflected in the positions,
   * without changing them (after a rebuild from the broker, or after adopting a missed fill), so
   * a late event for those fills is not counted again.
   *
   * @param order - the order id, symbol, side and cumulative quantity
   * @throws ValidationError (`validation`) for malformed input or a conflicting symbol or side
   * @example
   * ```ts
   * book.markApplied({ orderId: o.id, symbol: o.symbol, side: o.side, cumulativeQty: o.filledQty });
   * ```
   */
  markApplied(order: { orderId: string; symbol: string; side: OrderSide; cumulativeQty: DecimalLike }): void {
    const f = parseInput(FillSchema, order, "order");
    const s = this.stateFor(f.orderId, f.symbol, f.side, "order") ?? {
      symbol: f.symbol,
      side: f.side,
      applied: ZERO,
      executionIds: new Set<string>(),
    };
    this.orderStates.set(f.orderId, s);
    const cum = f.cumulativeQty as Decimal;
    if (cum.gt(s.applied)) s.applied = cum;
  }

  /**
   * Replaces every position (a full rebuild from the broker). Order records are kept.
   *
   * @param positions - the new positions
   * @returns the changes: symbol, before, after, for each symbol that changed
   * @throws ValidationError (`validation`) for a malformed position (nothing is changed)
   * @example
   * ```ts
   * book.replacePositions({ FNGU: "880.166892" });
   * ```
   */
  replacePositions(
    positions: ReadonlyMap<string, DecimalLike> | Readonly<Record<string, DecimalLike>>,
  ): { symbol: string; before: Decimal; after: Decimal }[] {
    const parsed = parseInput(PositionsSchema, positions, "positions");
    const next = new Map<string, Decimal>(parsed instanceof Map ? parsed : Object.entries(parsed));
    const symbols = [...new Set([...this.held.keys(), ...next.keys()])].sort();
    const changes: { symbol: string; before: Decimal; after: Decimal }[] = [];
    for (const symbol of symbols) {
      const before = this.position(symbol);
      const after = next.get(symbol) ?? ZERO;
      if (!before.eq(after)) changes.push({ symbol, before, after });
    }
    this.held.clear();
    for (const [symbol, qty] of next) this.put(symbol, qty);
    return changes;
  }

  /**
   * Forgets orders (to bound memory once they are finished and their late events are past).
   *
   * @param orderIds - the orders to forget
   * @returns how many were forgotten
   */
  forgetOrders(orderIds: Iterable<string>): number {
    let n = 0;
    for (const id of orderIds) if (this.orderStates.delete(id)) n++;
    return n;
  }

  /**
   * A JSON-serializable copy, for persisting.
   *
   * @returns positions and order records, decimals as strings
   * @example
   * ```ts
   * await fs.writeFile("book.json", JSON.stringify(book.toJSON()));
   * ```
   */
  toJSON(): PositionBookJSON {
    const positions: Record<string, string> = {};
    for (const [symbol, qty] of this.positions()) positions[symbol] = qty.toFixed();
    const orders: PositionBookJSON["orders"] = {};
    for (const [id, s] of [...this.orderStates].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      orders[id] = {
        symbol: s.symbol,
        side: s.side,
        appliedQty: s.applied.toFixed(),
        executionIds: [...s.executionIds].sort(),
      };
    }
    return { version: 1, positions, orders };
  }

  /**
   * Restores a book saved with `toJSON()`.
   *
   * @param json - the parsed JSON
   * @returns the book
   * @throws ValidationError (`validation`) naming the malformed field
   * @example
   * ```ts
   * const book = PositionBook.fromJSON(JSON.parse(await fs.readFile("book.json", "utf8")));
   * ```
   */
  static fromJSON(json: unknown): PositionBook {
    const parsed = parseInput(JsonSchema, json, "book");
    const book = new PositionBook(parsed.positions);
    for (const [id, o] of Object.entries(parsed.orders)) {
      book.orderStates.set(id, {
        symbol: o.symbol,
        side: o.side,
        applied: o.appliedQty,
        executionIds: new Set(o.executionIds),
      });
    }
    return book;
  }

  private stateFor(orderId: string, symbol: string, side: OrderSide, root: string): OrderState | undefined {
    const s = this.orderStates.get(orderId);
    if (s !== undefined && (s.symbol !== symbol || s.side !== side)) {
      const message = `order ${orderId} was seen as ${s.side} ${s.symbol}, not ${side} ${symbol}`;
      throw new ValidationError(`${root}.orderId: ${message}`, {
        issues: [{ path: `${root}.orderId`, message, value: orderId }],
      });
    }
    return s;
  }

  private put(symbol: string, qty: Decimal): void {
    if (qty.isZero()) this.held.delete(symbol);
    else this.held.set(symbol, qty);
  }
}
