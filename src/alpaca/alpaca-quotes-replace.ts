import { z } from "zod";
import type { BrokerPort, Quote, ReplaceOrderChanges } from "../broker/broker-port.js";
import { parseLatestQuotes, parseReplaceOrderChanges } from "../broker/schemas.js";
import { throwIfAborted } from "../core/clock.js";
import { formatDecimal } from "../core/decimal.js";
import { BrokerError } from "../core/errors.js";
import { parseInput, zSymbol } from "../core/validation.js";
import { mapAlpacaOrder } from "./alpaca-mapping.js";
import type { AlpacaFeed } from "./alpaca-options.js";
import type { AlpacaRest } from "./alpaca-rest.js";

// The two optional members of the contract on Alpaca: latest quotes from the market data API
// (GET /v2/stocks/quotes/latest, batched) and a replace (PATCH /v2/orders/{id}).

/** How many symbols one latest-quotes request asks for. */
export const LATEST_QUOTES_CHUNK = 100;

/** A number or a decimal string on the wire; Alpaca's market data sends JSON numbers. */
const zWireNumber = z.union([z.number().finite(), z.string()]);

const AlpacaQuoteSchema = z.object({
  bp: zWireNumber,
  ap: zWireNumber,
  bs: zWireNumber.nullish(),
  as: zWireNumber.nullish(),
  t: z.string(),
});

function protocol(detail: string): BrokerError {
  return new BrokerError("protocol", `[ordersafe/alpaca] malformed latest quotes from Alpaca: ${detail}`, {
    details: { what: "latest quotes" },
  });
}

/**
 * Maps a `GET /v2/stocks/quotes/latest` body (`{ quotes: { SYM: { bp, ap, bs, as, t } } }`)
 * to the contract's quotes, keeping only the symbols asked for.
 *
 * @param raw - the parsed body
 * @param symbols - the symbols asked for
 * @returns the quotes by symbol (symbols without a quote are absent)
 * @throws BrokerError (`protocol`) for a body that is not that shape
 * @example
 * ```ts
 * mapAlpacaLatestQuotes({ quotes: { SPY: { bp: 499.9, ap: 500.1, t: "2026-11-25T15:00:00Z" } } }, ["SPY"]);
 * ```
 */
export function mapAlpacaLatestQuotes(raw: unknown, symbols: readonly string[]): Map<string, Quote> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw protocol("expected an object");
  const quotes: unknown = Reflect.get(raw, "quotes");
  if (quotes === null || quotes === undefined) return new Map();
  if (typeof quotes !== "object" || Array.isArray(quotes)) throw protocol("quotes: expected an object");
  const out: Record<string, unknown> = {};
  for (const symbol of symbols) {
    const q: unknown = Reflect.get(quotes, symbol);
    if (q === undefined || q === null) continue;
    const parsed = AlpacaQuoteSchema.safeParse(q);
    if (!parsed.success) throw protocol(`${symbol}: expected bp, ap and t`);
    const { bp, ap, bs, as: askSize, t } = parsed.data;
    out[symbol] = {
      bid: String(bp),
      ask: String(ap),
      ...(bs !== undefined && bs !== null ? { bidSize: String(bs) } : {}),
      ...(askSize !== undefined && askSize !== null ? { askSize: String(askSize) } : {}),
      asOf: t,
    };
  }
  return parseLatestQuotes(out);
}

/**
 * The body of a replace with every decimal as a fixed string: `qty` to 9 decimals, the limit
 * price to 2 decimals at $1 and above (4 below).
 *
 * @param changes - the checked changes
 * @returns the SDK's `PatchOrderRequest`
 * @throws BrokerError (`invalid_order`) for a sub-penny limit price or more than 9 decimals
 */
export function toPatchOrderRequest(changes: ReplaceOrderChanges): {
  qty?: string;
  limitPrice?: string;
  clientOrderId?: string;
} {
  const invalid = (why: string) => new BrokerError("invalid_order", `[ordersafe/alpaca] replace: ${why}`);
  if (changes.qty !== undefined && changes.qty.decimalPlaces() > 9) {
    throw invalid(`qty ${changes.qty.toFixed()} has more than 9 decimals`);
  }
  const limit = changes.limitPrice;
  if (limit !== undefined && limit.decimalPlaces() > (limit.gte(1) ? 2 : 4)) {
    throw invalid(`limit price ${limit.toFixed()} is a sub-penny increment`);
  }
  return {
    ...(changes.qty !== undefined ? { qty: formatDecimal(changes.qty, 9) } : {}),
    ...(limit !== undefined ? { limitPrice: formatDecimal(limit, 4) } : {}),
    ...(changes.clientOrderId !== undefined ? { clientOrderId: changes.clientOrderId } : {}),
  };
}

/**
 * The adapter's `getLatestQuotes` and `replaceOrder`.
 *
 * @param rest - the broker's REST side
 * @param feed - the market data feed
 * @returns the two members
 */
export function quoteAndReplaceCalls(
  rest: AlpacaRest,
  feed: AlpacaFeed,
): Required<Pick<BrokerPort, "getLatestQuotes" | "replaceOrder">> {
  return {
    async getLatestQuotes(symbols, o) {
      const list = [...new Set(parseInput(z.array(zSymbol).max(10_000), symbols, "symbols"))];
      const out = new Map<string, Quote>();
      throwIfAborted(o?.signal);
      for (let i = 0; i < list.length; i += LATEST_QUOTES_CHUNK) {
        const chunk = list.slice(i, i + LATEST_QUOTES_CHUNK);
        const raw = await rest.json("getLatestQuotes", o, (init) =>
          rest.api.stocks.stockLatestQuotesRaw({ symbols: chunk.join(","), feed }, init),
        );
        for (const [s, q] of mapAlpacaLatestQuotes(raw, chunk)) out.set(s, q);
      }
      return out;
    },

    async replaceOrder(orderId, changes, o) {
      const id = parseInput(z.string().min(1).max(128), orderId, "orderId");
      const body = toPatchOrderRequest(parseReplaceOrderChanges(changes));
      const raw = await rest.json("replaceOrder", o, (init) =>
        rest.api.orders.patchOrderByOrderIdRaw({ orderId: id, patchOrderRequest: body }, init),
      );
      return mapAlpacaOrder(raw);
    },
  };
}
