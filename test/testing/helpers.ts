import { Decimal, type OrderRequest } from "ordersafe";

let counter = 0;

/** A market or limit order request for tests; a fresh client order id unless given. */
export function req(
  side: "buy" | "sell",
  symbol: string,
  amount: { qty?: string | number; notional?: string | number; limit?: string | number },
  extra: Partial<OrderRequest> = {},
): OrderRequest {
  const r: OrderRequest = {
    clientOrderId: `t-${++counter}`,
    symbol,
    side,
    type: amount.limit === undefined ? "market" : "limit",
    timeInForce: "day",
  };
  if (amount.qty !== undefined) r.qty = new Decimal(amount.qty);
  if (amount.notional !== undefined) r.notional = new Decimal(amount.notional);
  if (amount.limit !== undefined) r.limitPrice = new Decimal(amount.limit);
  return { ...r, ...extra };
}

/** The code of the error a promise rejects with. */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}
