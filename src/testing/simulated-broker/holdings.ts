import { type Decimal, ZERO } from "../../core/decimal.js";
import type { PositionState } from "./state-history.js";

/**
 * The account's cash and positions: what fills and outside trades change. No margin and no
 * shorts: the venue's rules keep cash and positions from going below zero.
 */
export class Holdings {
  private cashNow: Decimal;
  private readonly positions = new Map<string, PositionState>();

  /**
   * @param cash - the starting cash
   * @param positions - the starting positions (zero ones are left out)
   */
  constructor(cash: Decimal, positions: Iterable<readonly [string, PositionState]>) {
    this.cashNow = cash;
    for (const [symbol, p] of positions) if (!p.qty.isZero()) this.positions.set(symbol, p);
  }

  /** The cash now. */
  get cash(): Decimal {
    return this.cashNow;
  }

  /** @returns the shares of `symbol` held (0 when none) */
  qty(symbol: string): Decimal {
    return this.positions.get(symbol)?.qty ?? ZERO;
  }

  /** @returns every non-zero position, in the order they were opened */
  entries(): IterableIterator<[string, PositionState]> {
    return this.positions.entries();
  }

  /**
   * Books a trade: cash moves by qty × price, the position by qty; a buy averages its price
   * into the entry price (to 9 decimals), a position that reaches zero is gone.
   *
   * @param symbol - the symbol
   * @param qtyDelta - shares bought (negative: sold)
   * @param price - the trade price
   */
  apply(symbol: string, qtyDelta: Decimal, price: Decimal): void {
    this.cashNow = this.cashNow.minus(qtyDelta.times(price));
    const p = this.positions.get(symbol);
    const before = p?.qty ?? ZERO;
    const after = before.plus(qtyDelta);
    if (after.isZero()) {
      this.positions.delete(symbol);
      return;
    }
    let avg = p?.avgEntryPrice ?? price;
    if (qtyDelta.gt(0)) avg = before.times(avg).plus(qtyDelta.times(price)).div(after).toDecimalPlaces(9);
    this.positions.set(symbol, { qty: after, avgEntryPrice: avg });
  }
}
