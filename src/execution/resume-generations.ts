import {
  type BrokerPort,
  isFinalBrokerStatus,
  type OrderSide,
  type OrderSnapshot,
  type PositionSnapshot,
} from "../broker/broker-port.js";
import { ZERO } from "../core/decimal.js";
import { clientOrderId } from "../core/ids.js";
import type { PlannedRead } from "./read-state.js";

/** The generations of one (runId, symbol, side) a run looks at: ids past it are never used. */
export const MAX_GENERATIONS = 8;

/**
 * The generation of `order` when its client order id is one of this run's, else undefined.
 * Computed from the ids alone: no broker call.
 *
 * @param runId - the run
 * @param order - an order read from the broker
 * @returns its generation, or undefined when the order is not this run's
 */
export function ownGeneration(runId: string, order: OrderSnapshot): number | undefined {
  for (let g = 0; g < MAX_GENERATIONS; g++) {
    if (
      clientOrderId({ runId, symbol: order.symbol, side: order.side, generation: g }) === order.clientOrderId
    )
      return g;
  }
  return undefined;
}

/** What walking one (symbol, side) of a resumed run found. */
export interface PairWalk {
  /** The first generation free for a new order. */
  generation: number;
  /** This run's orders found on the way that were not adopted yet. */
  found: OrderSnapshot[];
  /** The id of a found order the plan did not count (working unseen, or filled after its read). */
  uncounted: string | undefined;
}

/** The generation a new order on a (symbol, side) may take, or the order that forbids one. */
export type NextGeneration =
  | { readonly kind: "free"; readonly generation: number }
  | { readonly kind: "blocked"; readonly uncounted: string };

/** Options of {@link ResumeGenerations}. */
export interface ResumeGenerationsOptions {
  /** The run whose client order ids are walked. */
  readonly runId: string;
  /** The port the lookups go through. */
  readonly broker: BrokerPort;
  /** Aborts the lookups (the abort reason is thrown). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Follows the orders a walk found to their final state and records them; called once per
   * pair walked, before the walk's answer is given to anyone.
   */
  readonly adopt: (found: readonly OrderSnapshot[]) => Promise<void>;
}

/**
 * The client order id generations of a resumed run: before the run's first order on a
 * (symbol, side), the generations an earlier attempt used are looked up by REST, so a new
 * order never takes the id of an order already placed (it would be refused, or worse,
 * adopted), and an order the plan did not count stops a new one.
 *
 * @remarks
 * - Each pair is walked at most once per run; every caller on the pair shares that walk.
 * - Orders already adopted (see {@link markAdopted}) and orders among the plan's open orders
 *   cost no call.
 * - A lookup that fails stops the walk at that generation, and the new order reuses its id:
 *   skipping it would leave a gap a later resume stops at, never seeing the orders placed
 *   past it; an id that does exist is refused as a duplicate and adopted, never placed twice.
 */
export class ResumeGenerations {
  private readonly adoptedIds = new Set<string>();
  private readonly walks = new Map<string, Promise<PairWalk>>();

  /** @param options - runId, broker, signal, and how found orders are adopted */
  constructor(private readonly options: ResumeGenerationsOptions) {}

  /**
   * Notes an order of this run as adopted already (its walk skips it without a call).
   *
   * @param id - its client order id
   */
  markAdopted(id: string): void {
    this.adoptedIds.add(id);
  }

  /**
   * The generation a new order on (symbol, side) takes, after the pair's walk.
   *
   * @param symbol - the symbol
   * @param side - the side
   * @param plannedFrom - the read the order's plan counted; undefined when the order is sized
   *   on reads made after every earlier order (nothing can be uncounted then)
   * @returns `free` with the generation, or `blocked` by an order the plan did not count
   * @throws the abort reason when the signal aborts
   */
  async next(symbol: string, side: OrderSide, plannedFrom: PlannedRead | undefined): Promise<NextGeneration> {
    const walk = await this.walk(symbol, side, plannedFrom);
    if (plannedFrom !== undefined && walk.uncounted !== undefined)
      return { kind: "blocked", uncounted: walk.uncounted };
    return { kind: "free", generation: walk.generation };
  }

  /**
   * Walks (symbol, side) once per run and adopts what the walk found; later calls share it.
   *
   * @param symbol - the symbol
   * @param side - the side
   * @param plannedFrom - the read the plan counted (its open orders cost no call)
   * @returns the walk
   */
  walk(symbol: string, side: OrderSide, plannedFrom: PlannedRead | undefined): Promise<PairWalk> {
    const key = `${symbol}:${side}`;
    let walk = this.walks.get(key);
    if (walk === undefined) {
      walk = (async () => {
        const w = await this.walkPair(symbol, side, plannedFrom);
        await this.options.adopt(w.found);
        return w;
      })();
      this.walks.set(key, walk);
    }
    return walk;
  }

  /**
   * Generations 0, 1, 2… until the broker does not know one; then past any later generation
   * among the plan's open orders (a generation refused at submit leaves a gap).
   */
  private async walkPair(
    symbol: string,
    side: OrderSide,
    plannedFrom: PlannedRead | undefined,
  ): Promise<PairWalk> {
    const { runId, broker, signal } = this.options;
    const planned = new Map((plannedFrom?.openOrders ?? []).map((o) => [o.clientOrderId, o]));
    const found: OrderSnapshot[] = [];
    let uncounted: string | undefined;
    const take = (o: OrderSnapshot) => {
      this.adoptedIds.add(o.clientOrderId);
      found.push(o);
    };
    let g = 0;
    for (; g < MAX_GENERATIONS; g++) {
      const id = clientOrderId({ runId, symbol, side, generation: g });
      if (this.adoptedIds.has(id)) continue;
      const seen = planned.get(id);
      if (seen !== undefined) {
        take(seen); // counted by the plan (projected holdings)
        continue;
      }
      let order: OrderSnapshot | null;
      try {
        order = await broker.getOrderByClientOrderId(id, { signal });
      } catch (e) {
        if (signal?.aborted) throw e;
        break; // unknown: stop here and reuse this id (see the class remarks)
      }
      if (order === null) break;
      if (this.adoptedIds.has(order.clientOrderId)) continue;
      take(order);
      // The plan counted neither a working order its reads missed nor a fill after them.
      const working = !isFinalBrokerStatus(order.status);
      const lateFill =
        order.filledQty.gt(0) &&
        plannedFrom !== undefined &&
        (order.updatedAt.getTime() >= plannedFrom.readAt ||
          // updatedAt is the broker's clock and readAt ours: a fill stamped before the read
          // may still have come after it. The position tells, with no clock involved.
          !(await this.positionUnchanged(symbol, plannedFrom.positions)));
      if (working || lateFill) uncounted ??= id;
    }
    // A generation refused at submit leaves no order behind: an open order of a later
    // generation (the resized retry) is still this run's, and the next order goes past it.
    for (let h = g + 1; h < MAX_GENERATIONS; h++) {
      const id = clientOrderId({ runId, symbol, side, generation: h });
      const seen = planned.get(id);
      if (seen !== undefined && !this.adoptedIds.has(id)) take(seen);
      if (this.adoptedIds.has(id)) g = h + 1;
    }
    return { generation: g, found, uncounted };
  }

  /** Whether the broker's position in `symbol` is still what a plan read (false when unknown). */
  private async positionUnchanged(symbol: string, read: readonly PositionSnapshot[]): Promise<boolean> {
    const { broker, signal } = this.options;
    const before = read.find((p) => p.symbol === symbol)?.qty ?? ZERO;
    try {
      const now = await broker.getPosition(symbol, { signal });
      return (now?.qty ?? ZERO).eq(before);
    } catch (e) {
      if (signal?.aborted) throw e;
      return false;
    }
  }
}
