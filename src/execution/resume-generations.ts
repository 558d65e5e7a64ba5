import type { BrokerPort, OrderSide, OrderSnapshot } from "../broker/broker-port.js";
import { mapBounded } from "../core/concurrency.js";
import { clientOrderId } from "../core/ids.js";

/** The generations of one (runId, symbol, side) a run uses: ids past it are never sent. */
export const MAX_GENERATIONS = 16;

/**
 * The generation of `order` when its client order id is one of this run's, else undefined.
 * Computed from the ids alone: no broker call.
 *
 * @param runId - the run
 * @param order - an order read from the broker
 * @returns its generation, or undefined when the order is not this run's
 */
export function ownGeneration(
  runId: string,
  order: Pick<OrderSnapshot, "clientOrderId" | "symbol" | "side">,
): number | undefined {
  for (let g = 0; g < MAX_GENERATIONS; g++) {
    if (
      clientOrderId({ runId, symbol: order.symbol, side: order.side, generation: g }) === order.clientOrderId
    )
      return g;
  }
  return undefined;
}

/** Options of {@link ResumeGenerations}. */
export interface ResumeGenerationsOptions {
  /** The run whose client order ids are handed out. */
  readonly runId: string;
  /** The port the lookups of an earlier attempt's orders go through. */
  readonly broker: BrokerPort;
  /** Aborts the lookups (the abort reason is thrown). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * The client order id generations of a run: every new order of a (symbol, side) takes the
 * next one, past every generation an earlier attempt of the run used, so an id is never sent
 * twice for two orders.
 *
 * @remarks
 * A resumed run learns its earlier attempt's orders before it plans ({@link learnEarlier}):
 * what they filled is then in the account's record, so the plan's reads must show it, and
 * the run never sends on top of it. Without an order history the learning looks up every
 * generation of each (symbol, side) by client order id; when a lookup the next generation
 * would pass fails, that id is reused: if an order does exist under it, the broker refuses
 * the new one as a duplicate and it is recovered, never placed twice.
 */
export class ResumeGenerations {
  private readonly next = new Map<string, number>();

  /** @param options - runId, broker, signal */
  constructor(private readonly options: ResumeGenerationsOptions) {}

  /**
   * Learns every order an earlier attempt of the run placed on `symbols` (both sides), by
   * walking their client order ids, and moves each pair's next generation past them.
   *
   * @param symbols - the symbols the run may trade
   * @param concurrency - lookups in flight at once
   * @returns the earlier attempt's orders, in (symbol, side, generation) order
   * @throws the abort reason when the signal aborts
   */
  async learnEarlier(symbols: readonly string[], concurrency: number): Promise<OrderSnapshot[]> {
    const pairs = symbols.flatMap((symbol) => [
      { symbol, side: "sell" as const },
      { symbol, side: "buy" as const },
    ]);
    const walks = await mapBounded(pairs, concurrency, (p) => this.walk(p.symbol, p.side));
    return walks.flat();
  }

  /**
   * Learns orders of an earlier attempt found by other means (an order history, the open
   * orders): each pair's next generation moves past them.
   *
   * @param orders - orders read from the broker (others' orders are ignored)
   * @returns the ones that are this run's
   */
  learnFound(orders: readonly OrderSnapshot[]): OrderSnapshot[] {
    const own: OrderSnapshot[] = [];
    for (const o of orders) {
      const g = ownGeneration(this.options.runId, o);
      if (g === undefined) continue;
      own.push(o);
      this.moveTo(o.symbol, o.side, g + 1);
    }
    return own;
  }

  /**
   * Takes the next generation of (symbol, side) for a new order.
   *
   * @param symbol - the symbol
   * @param side - the side
   * @returns the generation, or undefined when the run has used every generation of the pair
   */
  take(symbol: string, side: OrderSide): number | undefined {
    const g = this.next.get(key(symbol, side)) ?? 0;
    if (g >= MAX_GENERATIONS) return undefined;
    this.next.set(key(symbol, side), g + 1);
    return g;
  }

  /**
   * Notes the client order id an order of the run ended with (a resized retry takes later
   * generations): the next order on its pair goes past it.
   *
   * @param order - the order's client order id, symbol and side
   */
  noteUsed(order: Pick<OrderSnapshot, "clientOrderId" | "symbol" | "side">): void {
    const g = ownGeneration(this.options.runId, order);
    if (g !== undefined) this.moveTo(order.symbol, order.side, g + 1);
  }

  private moveTo(symbol: string, side: OrderSide, generation: number): void {
    const k = key(symbol, side);
    this.next.set(k, Math.max(this.next.get(k) ?? 0, generation));
  }

  /**
   * Every generation of one pair, looked up by client order id. A generation refused at
   * submit leaves no order behind, so the walk does not stop at the first unknown id: a
   * resized retry may stand past it. The next generation goes past the last one found; when a
   * lookup past it failed (the broker could not tell), the next order reuses that id instead.
   */
  private async walk(symbol: string, side: OrderSide): Promise<OrderSnapshot[]> {
    const { runId, broker, signal } = this.options;
    const found: OrderSnapshot[] = [];
    let lastFound = -1;
    const unknown: number[] = [];
    for (let g = this.next.get(key(symbol, side)) ?? 0; g < MAX_GENERATIONS; g++) {
      const id = clientOrderId({ runId, symbol, side, generation: g });
      try {
        const order = await broker.getOrderByClientOrderId(id, { signal });
        if (order !== null) {
          found.push(order);
          lastFound = g;
        }
      } catch (e) {
        if (signal?.aborted) throw e;
        unknown.push(g);
      }
    }
    const unknownPast = unknown.find((g) => g > lastFound);
    this.moveTo(symbol, side, unknownPast ?? lastFound + 1);
    return found;
  }
}

const key = (symbol: string, side: OrderSide) => `${symbol}:${side}`;
