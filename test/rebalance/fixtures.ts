import type { RebalanceInputInput } from "ordersafe";

/** Asset rules of a fractionable asset (increment 1e-9, minimum $1). */
export function fractional(symbol: string) {
  return { symbol, tradable: true, fractionable: true, qtyIncrement: "0.000000001", minNotional: "1" };
}

/** Asset rules of a whole-share asset. */
export function wholeShares(symbol: string) {
  return { symbol, tradable: true, fractionable: false, qtyIncrement: "1", minNotional: "1" };
}

/** A long position with every share available. */
export function position(symbol: string, qty: string, qtyAvailable = qty) {
  return { symbol, qty, qtyAvailable };
}

/** An open order snapshot. */
export function openOrder(
  id: string,
  symbol: string,
  side: "buy" | "sell",
  qty: string,
  extra: Record<string, unknown> = {},
) {
  return {
    id,
    clientOrderId: `c-${id}`,
    symbol,
    side,
    type: "market" as const,
    timeInForce: "day" as const,
    qty,
    filledQty: "0",
    status: "new" as const,
    updatedAt: new Date(0),
    ...extra,
  };
}

/** A small valid input to vary. */
export function baseInput(overrides: Partial<RebalanceInputInput> = {}): RebalanceInputInput {
  return {
    positions: [position("AAA", "100")],
    targets: { weights: { AAA: 0.5, BBB: 0.4 } },
    prices: { AAA: "10", BBB: "20" },
    assets: [fractional("AAA"), fractional("BBB")],
    account: { equity: "2000", cash: "1000" },
    ...overrides,
  };
}
