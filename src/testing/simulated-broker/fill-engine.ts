import type { BrokerOrderStatus, OrderFill, OrderSide, OrderUpdateEvent } from "../../broker/broker-port.js";
import type { Clock } from "../../core/clock.js";
import { Decimal, floorToIncrement, Rounding, ZERO } from "../../core/decimal.js";
import type { Random } from "../../core/random.js";
import { scheduleOn } from "../virtual-clock.js";
import type { EventLog } from "./event-log.js";
import type { Holdings } from "./holdings.js";
import type { Market } from "./market.js";
import { type IdSource, isOpen, type SimOrder } from "./order-book.js";
import { QUANTITY_STEP } from "./venue-rules.js";

/** How orders fill: the delay of each fill, partial fills, slippage. */
export interface FillSettings {
  /** From the ack (or the previous fill) to the next fill, ms. */
  readonly fillMs: number;
  /** The chance an order fills in parts. */
  readonly partialProbability: number;
  /** How many parts it then fills in. */
  readonly partialParts: number;
  /** Fill prices move against the order by this many basis points. */
  readonly slippageBps: number;
}

/** What the fill engine works with, and the status changes it hands back to the venue. */
export interface FillVenue {
  readonly clock: Clock;
  readonly market: Market;
  readonly holdings: Holdings;
  readonly log: EventLog;
  /** Draws execution ids (from the same source as order ids). */
  readonly ids: IdSource;
  setStatus(o: SimOrder, status: BrokerOrderStatus, event: OrderUpdateEvent, fill?: OrderFill): void;
  recordState(): void;
}

/**
 * Fills working orders on the clock: `fillMs` after the ack and after each fill, at the
 * last price moved against the order by the slippage, never through a limit; some orders
 * (a seeded draw per order) in `partialParts` parts; a sell never beyond the position.
 *
 * @remarks A limit order works only while marketable (a price move re-works it); outside the
 * session only extended-hours orders work. Late fills (a `fill_after_cancel` fault) fill the
 * whole rest of an order already canceled.
 */
export class FillEngine {
  /**
   * @param settings - delays, partial fills, slippage
   * @param random - the seeded source of the partial-fill draws
   * @param venue - what fills read and change
   */
  constructor(
    private readonly settings: FillSettings,
    private readonly random: Random,
    private readonly venue: FillVenue,
  ) {}

  /** Schedules the next fill of a working order when it can fill now. */
  work(o: SimOrder): void {
    if (!isOpen(o) || o.status === "accepted" || o.status === "pending_new") return;
    if (o.cancelFill !== undefined || o.pendingReject !== undefined) return;
    if (!this.canFillNow(o)) {
      this.watch(o);
      return;
    }
    o.cancelFill = scheduleOn(this.venue.clock, this.settings.fillMs, () => {
      o.cancelFill = undefined;
      this.fill(o, false);
    });
  }

  /**
   * With a quote model, a resting limit order is looked at each time the mid moves: it works
   * once the market reaches it, or fills at its limit by a passive-fill draw; else it rests on.
   * Without a quote model nothing moves by itself, so nothing is watched.
   */
  private watch(o: SimOrder): void {
    const model = this.venue.market.quotes;
    const limit = o.limitPrice;
    if (model === undefined || limit === undefined || !(this.venue.market.isOpen || o.extendedHours)) return;
    const now = this.venue.clock.now();
    o.cancelFill = scheduleOn(this.venue.clock, model.nextStepAt(o.symbol, now) - now, () => {
      o.cancelFill = undefined;
      if (!isOpen(o)) return;
      if (this.canFillNow(o)) return this.work(o);
      const quote = this.venue.market.quote(o.symbol);
      if (quote !== undefined && model.passiveFill(o.side, limit, quote)) return this.fill(o, false, limit);
      this.watch(o);
    });
  }

  /** Fills the whole rest of an open order now, at the market (a fill that raced a replace). */
  fillRestNow(o: SimOrder): void {
    this.stop(o);
    this.fill(o, true);
  }

  /** Cancels the scheduled next fill, if any. */
  stop(o: SimOrder): void {
    o.cancelFill?.();
    o.cancelFill = undefined;
  }

  /** Fills the rest of an order `fillMs` from now, whatever its status (a fill after a cancel). */
  fillLate(o: SimOrder): void {
    scheduleOn(this.venue.clock, this.settings.fillMs, () => this.fill(o, true));
  }

  /** Whether a limit order's limit is reached (a market order always is, when there is a price). */
  marketable(o: SimOrder): boolean {
    const price = this.referencePrice(o);
    if (price === undefined) return false;
    if (o.type === "market" || o.limitPrice === undefined) return true;
    return o.side === "buy" ? price.lte(o.limitPrice) : price.gte(o.limitPrice);
  }

  /** The market price an order is judged and filled against: the far touch (a buy the ask, a sell the bid). */
  private referencePrice(o: SimOrder): Decimal | undefined {
    const quote = this.venue.market.quote(o.symbol);
    if (quote === undefined) return undefined;
    return o.side === "buy" ? quote.ask : quote.bid;
  }

  private canFillNow(o: SimOrder): boolean {
    return (this.venue.market.isOpen || o.extendedHours) && this.marketable(o);
  }

  /**
   * One fill: its size and price, then the books, the log, the status and the next fill. A
   * passive fill (`atLimit`) fills a resting limit at its limit.
   */
  private fill(o: SimOrder, late: boolean, atLimit?: Decimal): void {
    if (!late && (!isOpen(o) || (atLimit === undefined && !this.canFillNow(o)))) return;
    const last = this.referencePrice(o);
    if (last === undefined) return;
    const price = atLimit ?? fillPrice(last, o.side, this.settings.slippageBps, o.limitPrice);
    o.partsLeft ??= !late && this.drawsPartial() ? this.settings.partialParts : 1;
    const parts = late ? 1 : o.partsLeft;
    const increment = this.venue.market.asset(o.symbol)?.qtyIncrement ?? QUANTITY_STEP;
    let qty = fillQuantity(o, parts, price, increment);
    // A position that shrank under an open sell (an outside trade) fills what is left, and the
    // rest is canceled: the broker never sells short.
    const held = this.venue.holdings.qty(o.symbol);
    const short = o.side === "sell" && qty.gt(held);
    if (short) qty = held;
    o.partsLeft = late ? 0 : o.partsLeft - 1;
    const done = !short && (o.qty !== undefined ? o.filledQty.plus(qty).gte(o.qty) : o.partsLeft <= 0);
    if (qty.lte(0)) this.endWithoutFill(o, done, short);
    else this.book(o, qty, price, { late, done, short });
  }

  private drawsPartial(): boolean {
    return this.settings.partialProbability > 0 && this.random() < this.settings.partialProbability;
  }

  /** Nothing left to fill: the order ends (filled if it filled before, else canceled) or waits. */
  private endWithoutFill(o: SimOrder, done: boolean, short: boolean): void {
    if (done && o.filledQty.gt(0)) this.venue.setStatus(o, "filled", "fill");
    else if (done || short) this.venue.setStatus(o, "canceled", "canceled");
    else this.work(o);
    this.venue.recordState();
  }

  private book(
    o: SimOrder,
    qty: Decimal,
    price: Decimal,
    how: { late: boolean; done: boolean; short: boolean },
  ): void {
    const executionId = this.venue.ids.next();
    o.filledQty = o.filledQty.plus(qty);
    o.filledValue = o.filledValue.plus(qty.times(price));
    this.venue.holdings.apply(o.symbol, o.side === "buy" ? qty : qty.negated(), price);
    this.venue.log.record("fill", {
      orderId: o.id,
      executionId,
      symbol: o.symbol,
      side: o.side,
      qty: qty.toString(),
      price: price.toString(),
      late: how.late,
    });
    const status: BrokerOrderStatus = how.done
      ? "filled"
      : o.status === "pending_cancel"
        ? "pending_cancel"
        : "partially_filled";
    this.venue.setStatus(o, status, how.done ? "fill" : "partial_fill", { qty, price, executionId });
    if (how.short) this.venue.setStatus(o, "canceled", "canceled");
    this.venue.recordState();
    if (!how.done && !how.short) this.work(o);
  }
}

/**
 * The price an order fills at: the last price moved against it by the slippage (to 4
 * decimals, half up), never through its limit.
 *
 * @param last - the last price
 * @param side - the order's side
 * @param slippageBps - basis points against the order
 * @param limit - its limit, if any
 * @returns the fill price
 */
export function fillPrice(
  last: Decimal,
  side: OrderSide,
  slippageBps: number,
  limit: Decimal | undefined,
): Decimal {
  const slip = new Decimal(slippageBps).div(10_000);
  const moved = (
    side === "buy" ? last.times(slip.plus(1)) : last.times(new Decimal(1).minus(slip))
  ).toDecimalPlaces(4, Rounding.halfUp);
  if (limit === undefined) return moved;
  return side === "buy" ? Decimal.min(moved, limit) : Decimal.max(moved, limit);
}

/**
 * The size of an order's next fill, one of `parts` equal parts of what is left: shares down
 * to the asset's increment (all the rest when that rounds to nothing), or for a notional
 * order shares worth the dollars left down to {@link QUANTITY_STEP}, never past the notional.
 *
 * @param o - the order (its size and what filled)
 * @param parts - the fills left, this one included
 * @param price - this fill's price
 * @param increment - the asset's quantity increment
 * @returns the shares (0 or less: nothing to fill)
 */
export function fillQuantity(
  o: Pick<SimOrder, "qty" | "notional" | "filledQty" | "filledValue">,
  parts: number,
  price: Decimal,
  increment: Decimal,
): Decimal {
  if (o.qty !== undefined) {
    const rest = o.qty.minus(o.filledQty);
    const qty = parts > 1 ? floorToIncrement(rest.div(parts), increment) : rest;
    return qty.lte(0) ? rest : qty;
  }
  if (o.notional === undefined) return ZERO;
  const restValue = o.notional.minus(o.filledValue);
  const value = parts > 1 ? restValue.div(parts) : restValue;
  const qty = floorToIncrement(value.div(price), QUANTITY_STEP);
  return o.filledValue.plus(qty.times(price)).gt(o.notional) ? qty.minus(QUANTITY_STEP) : qty;
}
