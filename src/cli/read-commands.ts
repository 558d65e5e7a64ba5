import { formatMoney, formatQty } from "../format/money.js";
import { formatTable } from "../format/table.js";
import { type CommandContext, EXIT_CODES, print, printJson } from "./context.js";

/**
 * `ordersafe orders [--open] [--json]`: the account's orders, newest first.
 *
 * @returns 0
 */
export async function ordersCommand(ctx: CommandContext): Promise<number> {
  const orders = await ctx.session.orders(ctx.args.open);
  if (ctx.args.json) printJson(ctx.io, orders);
  else if (orders.length === 0) print(ctx.io, ctx.args.open ? "No open orders." : "No orders.");
  else {
    const rows = orders.map((o) => [
      o.updatedAt.replace("T", " ").slice(0, 19),
      o.symbol,
      o.side,
      o.notional === null ? (o.qty === null ? "" : formatQty(o.qty)) : formatMoney(o.notional),
      formatQty(o.filledQty),
      o.filledAvgPrice === null ? "" : formatMoney(o.filledAvgPrice),
      o.status,
      o.clientOrderId,
    ]);
    print(
      ctx.io,
      formatTable(
        [
          { header: "updated" },
          { header: "symbol" },
          { header: "side" },
          { header: "requested", align: "right" },
          { header: "filled", align: "right" },
          { header: "avg price", align: "right" },
          { header: "status" },
          { header: "client order id" },
        ],
        rows,
      ),
    );
  }
  return EXIT_CODES.ok;
}

/**
 * `ordersafe positions [--json]`: the broker's positions.
 *
 * @returns 0
 */
export async function positionsCommand(ctx: CommandContext): Promise<number> {
  const positions = await ctx.session.broker.getPositions();
  if (ctx.args.json) {
    printJson(
      ctx.io,
      positions.map((p) => ({
        symbol: p.symbol,
        qty: p.qty.toFixed(),
        qtyAvailable: p.qtyAvailable.toFixed(),
        marketValue: p.marketValue?.toFixed() ?? null,
        avgEntryPrice: p.avgEntryPrice?.toFixed() ?? null,
        currentPrice: p.currentPrice?.toFixed() ?? null,
      })),
    );
  } else if (positions.length === 0) print(ctx.io, "No positions.");
  else {
    const m = (d: { toFixed(): string } | undefined) => (d === undefined ? "" : formatMoney(d.toFixed()));
    print(
      ctx.io,
      formatTable(
        [
          { header: "symbol" },
          { header: "qty", align: "right" },
          { header: "available", align: "right" },
          { header: "price", align: "right" },
          { header: "value", align: "right" },
          { header: "avg entry", align: "right" },
        ],
        positions.map((p) => [
          p.symbol,
          formatQty(p.qty),
          formatQty(p.qtyAvailable),
          m(p.currentPrice),
          m(p.marketValue),
          m(p.avgEntryPrice),
        ]),
      ),
    );
  }
  return EXIT_CODES.ok;
}

/**
 * `ordersafe account [--json]`: cash, buying power and equity.
 *
 * @returns 0
 */
export async function accountCommand(ctx: CommandContext): Promise<number> {
  const a = await ctx.session.broker.getAccount();
  if (ctx.args.json) {
    printJson(ctx.io, {
      cash: a.cash.toFixed(),
      buyingPower: a.buyingPower.toFixed(),
      equity: a.equity.toFixed(),
      currency: a.currency,
      tradingBlocked: a.tradingBlocked,
    });
  } else {
    print(
      ctx.io,
      formatTable(
        [{ header: "account" }, { header: a.currency, align: "right" }],
        [
          ["cash", formatMoney(a.cash)],
          ["buying power", formatMoney(a.buyingPower)],
          ["equity", formatMoney(a.equity)],
          ["trading", a.tradingBlocked ? "blocked" : "allowed"],
        ],
      ),
    );
  }
  return EXIT_CODES.ok;
}
