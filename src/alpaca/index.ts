// ordersafe/alpaca: a BrokerPort on the official Alpaca SDK (@alpacahq/alpaca-trade-api v4).
// Explicit re-exports only.

export { createAlpacaBroker } from "./alpaca-broker.js";
export { ALPACA_ERROR_RULES, type AlpacaErrorRule, classifyAlpacaRefusal } from "./alpaca-errors.js";
export {
  ALPACA_MIN_NOTIONAL,
  ALPACA_ORDER_STATUS,
  ALPACA_TRADE_EVENT,
  type AlpacaOrderStatus,
  type AlpacaTradeEvent,
  FRACTIONAL_INCREMENT,
  mapAlpacaAccount,
  mapAlpacaAsset,
  mapAlpacaClock,
  mapAlpacaLatestTrades,
  mapAlpacaOrder,
  mapAlpacaPosition,
  mapAlpacaTradeUpdate,
} from "./alpaca-mapping.js";
export {
  ALPACA_BROKER_DEFAULTS,
  ALPACA_DATA_URL,
  ALPACA_FEEDS,
  ALPACA_LIVE_STREAM_URL,
  ALPACA_LIVE_URL,
  ALPACA_PAPER_STREAM_URL,
  ALPACA_PAPER_URL,
  type AlpacaBrokerOptions,
  AlpacaBrokerOptionsSchema,
  type AlpacaFeed,
} from "./alpaca-options.js";
export type { AlpacaStreamSettings } from "./alpaca-order-stream.js";
