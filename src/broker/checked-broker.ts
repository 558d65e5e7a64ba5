import type { Decimal } from "../core/decimal.js";
import type {
  AccountSnapshot,
  AssetRules,
  BrokerPort,
  CallOptions,
  MarketClock,
  OrderRequest,
  OrderSnapshot,
  OrderUpdateListener,
  PositionSnapshot,
  Subscription,
} from "./broker-port.js";
import {
  parseAccountSnapshot,
  parseAssetRules,
  parseLatestPrices,
  parseMarketClock,
  parseOrderSnapshot,
  parseOrderSnapshots,
  parseOrderUpdate,
  parsePositionSnapshot,
  parsePositionSnapshots,
} from "./schemas.js";

const CHECKED = Symbol.for("ordersafe.checked-broker");

/**
 * Wraps a port so that every value it returns or pushes is checked by the schemas: a
 * malformed reply becomes `BrokerError("protocol")` naming the field, never a NaN in a
 * ledger. Every ordersafe service wraps the port it is given; wrapping twice is a no-op.
 *
 * @param port - any `BrokerPort`
 * @returns a port with the same behaviour whose replies are checked
 * @remarks A malformed pushed update is dropped (and reported to `onInvalidUpdate`): the
 *   tracker's REST checks recover the order's true state.
 * @example
 * ```ts
 * const safe = checkBroker(myPort);
 * ```
 */
export function checkBroker(
  port: BrokerPort,
  onInvalidUpdate: (error: unknown) => void = () => {},
): BrokerPort {
  if ((port as unknown as Record<symbol, unknown>)[CHECKED] === true) return port;
  const checked: BrokerPort = {
    get id() {
      return port.id;
    },
    get capabilities() {
      return port.capabilities;
    },
    async getAccount(opts?: CallOptions): Promise<AccountSnapshot> {
      return parseAccountSnapshot(await port.getAccount(opts));
    },
    async getPositions(opts?: CallOptions): Promise<PositionSnapshot[]> {
      return parsePositionSnapshots(await port.getPositions(opts));
    },
    async getPosition(symbol: string, opts?: CallOptions): Promise<PositionSnapshot | null> {
      const p = await port.getPosition(symbol, opts);
      return p === null || p === undefined ? null : parsePositionSnapshot(p);
    },
    async getAssets(symbols: readonly string[], opts?: CallOptions): Promise<AssetRules[]> {
      return parseAssetRules(await port.getAssets(symbols, opts));
    },
    async getLatestPrices(symbols: readonly string[], opts?: CallOptions): Promise<Map<string, Decimal>> {
      return parseLatestPrices(await port.getLatestPrices(symbols, opts));
    },
    async getClock(opts?: CallOptions): Promise<MarketClock> {
      return parseMarketClock(await port.getClock(opts));
    },
    async submitOrder(request: OrderRequest, opts?: CallOptions): Promise<OrderSnapshot> {
      return parseOrderSnapshot(await port.submitOrder(request, opts));
    },
    async getOrder(orderId: string, opts?: CallOptions): Promise<OrderSnapshot | null> {
      const o = await port.getOrder(orderId, opts);
      return o === null || o === undefined ? null : parseOrderSnapshot(o);
    },
    async getOrderByClientOrderId(clientOrderId: string, opts?: CallOptions): Promise<OrderSnapshot | null> {
      const o = await port.getOrderByClientOrderId(clientOrderId, opts);
      return o === null || o === undefined ? null : parseOrderSnapshot(o);
    },
    async listOpenOrders(opts?: CallOptions): Promise<OrderSnapshot[]> {
      return parseOrderSnapshots(await port.listOpenOrders(opts));
    },
    cancelOrder(orderId: string, opts?: CallOptions): Promise<void> {
      return port.cancelOrder(orderId, opts);
    },
    async closePosition(symbol: string, opts?: CallOptions): Promise<OrderSnapshot> {
      return parseOrderSnapshot(await port.closePosition(symbol, opts));
    },
    subscribeOrderUpdates(listener: OrderUpdateListener): Subscription {
      return port.subscribeOrderUpdates({
        onUpdate(raw) {
          let update: ReturnType<typeof parseOrderUpdate>;
          try {
            update = parseOrderUpdate(raw);
          } catch (error) {
            onInvalidUpdate(error);
            return;
          }
          listener.onUpdate(update);
        },
        onStatus: (status) => listener.onStatus?.(status),
      });
    },
  };
  Object.defineProperty(checked, CHECKED, { value: true });
  return checked;
}
