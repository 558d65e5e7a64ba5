import type { BrokerCapabilities } from "../broker/broker-port.js";
import { calculateRebalanceOrders } from "../rebalance/calculate-rebalance-orders.js";
import type { RebalanceTargets } from "../rebalance/rebalance-input.js";
import type { RebalancePlan } from "../rebalance/rebalance-plan.js";
import type { FreshState } from "./read-state.js";

/** What {@link planFromState} plans with besides the state. */
export interface PlanFromStateInput {
  /** The parsed targets. */
  readonly targets: RebalanceTargets;
  /** What the broker can do. */
  readonly capabilities: BrokerCapabilities;
  /** The planner options (`sides` and `cashExcludesOpenBuys` are set here). */
  readonly options: Readonly<Record<string, unknown>>;
  /** `both` for the first plan, `buys` for the re-plan on the real cash after the sells. */
  readonly sides: "both" | "buys";
}

/**
 * Plans from a fresh read (pure): the cash the plan may count on is never more than the
 * broker's buying power, nor than the cash less what the open buys hold.
 *
 * @param state - the fresh state
 * @param input - targets, capabilities, planner options, sides
 * @returns the plan
 * @throws ValidationError (`validation`) for planner input the planner refuses
 */
export function planFromState(state: FreshState, input: PlanFromStateInput): RebalancePlan {
  const caps = input.capabilities;
  const basis = state.account.nonMarginableBuyingPower ?? state.account.buyingPower;
  return calculateRebalanceOrders({
    positions: state.positions,
    openOrders: state.openOrders,
    targets: input.targets,
    prices: state.prices,
    assets: state.assets,
    // The plan counts on the lesser of cash less the holds of the open buys it sees (the order
    // book is current) and the broker's buying power (which nets them, but may lag them).
    account: { equity: state.account.equity, cash: state.account.cash, buyingPower: basis },
    capabilities: {
      notionalOrders: caps.notionalOrders,
      fractional: caps.fractional,
      closePosition: caps.closePosition,
    },
    options: { ...input.options, sides: input.sides },
  });
}
