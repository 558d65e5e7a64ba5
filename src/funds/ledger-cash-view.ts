import { z } from "zod";
import type { OrderSide } from "../broker/vocabulary.js";
import { type Decimal, type DecimalLike, toDecimal } from "../core/decimal.js";
import { parseInput, zNonNegativeDecimal } from "../core/validation.js";
import { RESERVATION_LEDGER_DEFAULTS } from "./reservation-ledger.js";

/**
 * The defaults of {@link LedgerCashView}: the tolerance is the reservation ledger's
 * (`RESERVATION_LEDGER_DEFAULTS.driftTolerance`, $1).
 *
 * @example
 * ```ts
 * const view = new LedgerCashView({ tolerance: LEDGER_CASH_VIEW_DEFAULTS.tolerance.times(5) });
 * ```
 */
export const LEDGER_CASH_VIEW_DEFAULTS = Object.freeze({
  /** Dollars the settled cash may differ from the view's before it is drift. */
  tolerance: RESERVATION_LEDGER_DEFAULTS.driftTolerance,
});

/**
 * A settled cash read that differs from what the ledger expected (the previous settled
 * read plus the fills since) by more than the tolerance.
 *
 * @remarks `difference` is `settledCash − expectedCash`: negative when money left that no
 *   known fill explains (fees, another process's buy, a withdrawal, a missed fill), positive
 *   when money came in that way.
 */
export interface LedgerCashDrift {
  /** Always `"ledger_cash_drift"`. */
  kind: "ledger_cash_drift";
  /** The previous settled cash plus the sells' and minus the buys' filled notional since. */
  expectedCash: Decimal;
  /** The cash the settled read shows. */
  settledCash: Decimal;
  /** `settledCash − expectedCash`. */
  difference: Decimal;
  /** The tolerance that was exceeded. */
  tolerance: Decimal;
  /** Fills counted since the previous settled read. */
  fills: number;
}

/** Options of {@link LedgerCashView}. */
export interface LedgerCashViewOptions {
  /** @defaultValue `LEDGER_CASH_VIEW_DEFAULTS.tolerance` ($1) */
  tolerance?: DecimalLike | undefined;
}

const OptionsSchema = z.object({ tolerance: zNonNegativeDecimal.optional() }).strict();

/**
 * The cash a reservation ledger funds buys from, as the ledger sees it: the last settled
 * read, minus what buys spent and plus what sells brought since. The next settled read is
 * compared with it: a difference beyond the tolerance is drift (money moved that the known
 * fills do not explain), and the view starts again from the read. After fills whose timing
 * against the last read is unknown ({@link LedgerCashView.unknownFills}), the next read is
 * taken without comparing.
 *
 * @example
 * ```ts
 * const view = new LedgerCashView();
 * view.settled(10_000);              // first read: nothing to compare
 * view.filled("sell", 1_500);
 * const drift = view.settled(11_200); // expected 11 500: a -300 drift
 * ```
 */
export class LedgerCashView {
  /** The tolerance in dollars. */
  readonly tolerance: Decimal;
  #expected: Decimal | undefined;
  #fills = 0;
  /** Whether a fill of unknown timing was seen since the last settled read. */
  #blind = false;

  /**
   * @param options - `tolerance`
   * @throws ValidationError (`validation`) for a negative or malformed tolerance
   */
  constructor(options: LedgerCashViewOptions = {}) {
    const o = parseInput(OptionsSchema, options, "options");
    this.tolerance = o.tolerance ?? LEDGER_CASH_VIEW_DEFAULTS.tolerance;
  }

  /** The cash the view expects the next settled read to show; undefined before the first. */
  get expected(): Decimal | undefined {
    return this.#expected;
  }

  /**
   * Takes a settled read's cash: compares it with the view, then starts the view from it.
   *
   * @param cash - the cash of a settled account read
   * @returns the drift when the difference exceeds the tolerance, else undefined
   */
  settled(cash: DecimalLike): LedgerCashDrift | undefined {
    const settledCash = toDecimal(cash);
    const expectedCash = this.#expected;
    const fills = this.#fills;
    const blind = this.#blind;
    this.#expected = settledCash;
    this.#fills = 0;
    this.#blind = false;
    if (expectedCash === undefined || blind) return undefined;
    const difference = settledCash.minus(expectedCash);
    if (difference.abs().lte(this.tolerance)) return undefined;
    return {
      kind: "ledger_cash_drift",
      expectedCash,
      settledCash,
      difference,
      tolerance: this.tolerance,
      fills,
    };
  }

  /**
   * Counts a fill: a buy spends its notional, a sell brings it. Before the first settled read
   * it counts nothing.
   *
   * @param side - the order's side
   * @param notional - the filled quantity × average price
   */
  /**
   * Notes an order whose fills may already be in the last settled read, or not (an order taken
   * over from an earlier attempt or another run): the next settled read is not compared, and
   * the view starts again from it.
   */
  unknownFills(): void {
    this.#blind = true;
  }

  filled(side: OrderSide, notional: DecimalLike): void {
    if (this.#expected === undefined) return;
    const n = toDecimal(notional);
    if (n.isZero()) return;
    this.#expected = side === "buy" ? this.#expected.minus(n) : this.#expected.plus(n);
    this.#fills++;
  }
}
