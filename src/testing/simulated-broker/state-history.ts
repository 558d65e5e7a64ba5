import type { AccountSnapshot, PositionSnapshot } from "../../broker/broker-port.js";
import { Decimal, ZERO } from "../../core/decimal.js";

/** One position as the broker holds it. */
export interface PositionState {
  readonly qty: Decimal;
  readonly avgEntryPrice: Decimal;
}

/**
 * What the position and account reads are answered from: the account's state at one moment
 * (positions, cash, what open orders hold, prices), copied so later changes leave it alone.
 */
export interface StateRecord {
  /** When this was the state (clock ms). */
  readonly at: number;
  readonly cash: Decimal;
  readonly positions: ReadonlyMap<string, PositionState>;
  /** Shares held by open sells, per symbol with a position. */
  readonly sellHeld: ReadonlyMap<string, Decimal>;
  /** Cash held by open buys. */
  readonly buyHold: Decimal;
  readonly prices: ReadonlyMap<string, Decimal>;
}

/** Past this many records the oldest half is dropped (a read can look back a long way, not forever). */
const MAX_RECORDS = 10_000;

/**
 * The account's recent states, oldest first, so a read can be answered as of some time ago
 * (a `stale_reads` fault today; a read that lags fills by a delay of its own is answered the
 * same way, from `asOf(now - lag)`).
 *
 * @remarks Two records taken in the same clock ms keep only the later one.
 */
export class StateHistory {
  private readonly records: StateRecord[];
  private last: StateRecord;

  /** @param first - the state at the start */
  constructor(first: StateRecord) {
    this.records = [first];
    this.last = first;
  }

  /** Adds the state now (replacing a record of the same ms). */
  capture(record: StateRecord): void {
    if (this.last.at === record.at) this.records[this.records.length - 1] = record;
    else this.records.push(record);
    this.last = record;
    if (this.records.length > MAX_RECORDS) this.records.splice(0, MAX_RECORDS / 2);
  }

  /** @returns the newest record */
  latest(): StateRecord {
    return this.last;
  }

  /**
   * @param cutoff - a clock time (ms)
   * @returns the newest record taken at or before `cutoff`; the oldest kept when none was
   */
  asOf(cutoff: number): StateRecord {
    let chosen = this.records[0] ?? this.last;
    for (const r of this.records) {
      if (r.at <= cutoff) chosen = r;
      else break;
    }
    return chosen;
  }
}

/**
 * The account read from a state: buying power is the cash less what open buys hold (no
 * margin), equity the cash plus the positions at their prices (at cost when unpriced).
 *
 * @param state - the state read
 * @param asOf - when it was read
 * @returns the account snapshot
 */
export function accountIn(state: StateRecord, asOf: Date): AccountSnapshot {
  let equity = state.cash;
  for (const [s, p] of state.positions)
    equity = equity.plus(p.qty.times(state.prices.get(s) ?? p.avgEntryPrice));
  const bp = Decimal.max(ZERO, state.cash.minus(state.buyHold));
  return {
    cash: state.cash,
    buyingPower: bp,
    nonMarginableBuyingPower: bp,
    equity,
    currency: "USD",
    tradingBlocked: false,
    asOf,
  };
}

/**
 * One position read from a state: `qtyAvailable` is the quantity less what open sells hold.
 *
 * @param state - the state read
 * @param symbol - the symbol
 * @returns the position, or null when there is none
 */
export function positionIn(state: StateRecord, symbol: string): PositionSnapshot | null {
  const p = state.positions.get(symbol);
  if (p === undefined || p.qty.isZero()) return null;
  const price = state.prices.get(symbol);
  const held = state.sellHeld.get(symbol) ?? ZERO;
  const snap: PositionSnapshot = {
    symbol,
    qty: p.qty,
    qtyAvailable: Decimal.min(p.qty, Decimal.max(ZERO, p.qty.minus(held))),
    avgEntryPrice: p.avgEntryPrice,
  };
  if (price !== undefined) {
    snap.currentPrice = price;
    snap.marketValue = p.qty.times(price);
  }
  return snap;
}

/**
 * Every position read from a state, by symbol.
 *
 * @param state - the state read
 * @returns the non-zero positions
 */
export function positionsIn(state: StateRecord): PositionSnapshot[] {
  return [...state.positions.keys()]
    .sort()
    .map((s) => positionIn(state, s))
    .filter((p): p is PositionSnapshot => p !== null);
}
