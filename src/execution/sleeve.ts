import type { BrokerPort, OrderSnapshot, PositionSnapshot } from "../broker/broker-port.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import { OrdersafeError } from "../core/errors.js";
import { strategyOfClientOrderId } from "../core/ids.js";
import type { RebalanceLeg, RebalancePlan } from "../rebalance/rebalance-plan.js";
import type { FreshState } from "./read-state.js";

/**
 * A strategy's sleeve of the account: its positions are the net fills of its own orders (every
 * order in the broker's history whose client order id it owns), each capped at what the account
 * can sell of the symbol; the open orders are its own. Other holdings and orders are not in it,
 * so a plan made from it never touches them.
 *
 * @param state - the account as read
 * @param broker - the run's port (it must keep an order history)
 * @param strategyId - the strategy
 * @param withRetries - runs the history read with the run's bounded retries
 * @param signal - aborts the read
 * @returns the state seen from the sleeve (account, prices, assets and clock unchanged)
 * @throws OrdersafeError (`config`) for a port without an order history; the read's error
 */
export async function sleeveOf(
  state: FreshState,
  broker: BrokerPort,
  strategyId: string,
  withRetries: <T>(read: () => Promise<T>) => Promise<T>,
  signal: AbortSignal | undefined,
): Promise<FreshState> {
  const list = broker.listOrders;
  if (list === undefined || broker.capabilities.orderHistory !== true) {
    throw new OrdersafeError("config", "scope sleeve needs a port with an order history (listOrders)");
  }
  const history = await withRetries(() =>
    list.call(broker, { status: "all", after: new Date(0) }, { signal }),
  );
  const own = (o: OrderSnapshot) => strategyOfClientOrderId(o.clientOrderId) === strategyId;
  const net = new Map<string, Decimal>();
  for (const o of history.filter(own)) {
    const signed = o.side === "buy" ? o.filledQty : o.filledQty.neg();
    net.set(o.symbol, (net.get(o.symbol) ?? ZERO).plus(signed));
  }
  const held = new Map(state.positions.map((p) => [p.symbol, p]));
  const positions: PositionSnapshot[] = [];
  for (const [symbol, qty] of net) {
    if (!qty.gt(0)) continue;
    const account = held.get(symbol);
    const available = account === undefined ? ZERO : minOf(qty, account.qtyAvailable);
    positions.push({
      symbol,
      qty,
      qtyAvailable: available.gt(0) ? available : ZERO,
      ...(account?.currentPrice !== undefined ? { currentPrice: account.currentPrice } : {}),
      ...(account?.currentPrice !== undefined ? { marketValue: qty.times(account.currentPrice) } : {}),
    });
  }
  positions.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  return {
    ...state,
    positions,
    openOrders: state.openOrders.filter(own),
    foreignOpenOrders: state.openOrders.filter((o) => !own(o)),
  };
}

function minOf(a: Decimal, b: Decimal): Decimal {
  return a.lt(b) ? a : b;
}

/**
 * A sleeve's plan without the legs that would meet another strategy's open order on the other
 * side (the broker refuses a wash trade, and another strategy's order is never cancelled).
 *
 * @param plan - the plan made from the sleeve
 * @param foreign - the other strategies' open orders
 * @param note - called once per dropped leg
 * @returns the plan without those legs
 */
export function withoutForeignConflicts(
  plan: RebalancePlan,
  foreign: readonly OrderSnapshot[],
  note: (leg: RebalanceLeg, order: OrderSnapshot) => void,
): RebalancePlan {
  const meets = (l: RebalanceLeg) => foreign.find((o) => o.symbol === l.symbol && o.side !== l.side);
  const dropped = new Set<RebalanceLeg>();
  for (const l of plan.legs) {
    const o = meets(l);
    if (o === undefined) continue;
    dropped.add(l);
    note(l, o);
  }
  if (dropped.size === 0) return plan;
  const keep = (l: RebalanceLeg) => !dropped.has(l);
  return {
    ...plan,
    legs: plan.legs.filter(keep),
    sells: plan.sells.filter(keep),
    buys: plan.buys.filter(keep),
  };
}
