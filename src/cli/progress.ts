import type { OrderOutcome } from "../execution/order-outcome.js";
import type { SmartRebalancer } from "../execution/smart-rebalancer.js";
import { formatMoney, formatQty } from "../format/money.js";

/** Where progress goes: one updating line on a terminal, plain lines otherwise. */
export interface ProgressSink {
  write(text: string): unknown;
}

/** One order's last known state, for the updating line. */
interface OrderLine {
  key: string;
  text: string;
}

function finalText(o: OrderOutcome): string {
  const fill = o.filledQty.isZero()
    ? ""
    : ` ${formatQty(o.filledQty)} @ ${o.avgPrice ? formatMoney(o.avgPrice) : "?"}`;
  const error = o.errorCode === undefined ? "" : ` (${o.errorCode})`;
  return `${o.symbol} ${o.side} ${o.state}${fill}${error}`;
}

/**
 * Shows a rebalance as it runs: each phase, and each order's state as it changes (sending,
 * submitted, final). On a terminal it is one line rewritten in place (the phase and every
 * order's latest state); otherwise one plain line per change.
 *
 * @param rebalancer - the rebalancer to follow
 * @param out - where to write (stderr)
 * @param tty - whether `out` is a terminal
 * @returns `end()`, which finishes the updating line
 */
export function followRebalance(
  rebalancer: SmartRebalancer,
  out: ProgressSink,
  tty: boolean,
): { end(): void } {
  let phase = "";
  const orders: OrderLine[] = [];
  const set = (key: string, text: string) => {
    const found = orders.find((o) => o.key === key);
    if (found) found.text = text;
    else orders.push({ key, text });
  };
  const show = (plain: string) => {
    if (!tty) {
      out.write(`${plain}\n`);
      return;
    }
    const line = `[${phase}] ${orders.map((o) => o.text).join(" | ")}`;
    const width = 200;
    out.write(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
  };
  const onPhase = (e: { phase: string }) => {
    phase = e.phase;
    show(`phase ${e.phase}`);
  };
  const onSending = (e: { request: { symbol: string; side: string }; attempt: number }) => {
    set(`${e.request.symbol}:${e.request.side}`, `${e.request.symbol} ${e.request.side} sending`);
    show(`order ${e.request.symbol} ${e.request.side} sending (attempt ${e.attempt})`);
  };
  const onSubmitted = (e: {
    request: { symbol: string; side: string };
    order: { status: string; clientOrderId: string };
  }) => {
    set(`${e.request.symbol}:${e.request.side}`, `${e.request.symbol} ${e.request.side} ${e.order.status}`);
    show(`order ${e.request.symbol} ${e.request.side} ${e.order.status} (${e.order.clientOrderId})`);
  };
  const onFinal = (e: { outcome: OrderOutcome }) => {
    set(`${e.outcome.symbol}:${e.outcome.side}`, finalText(e.outcome));
    show(`order ${finalText(e.outcome)}`);
  };
  const onHalted = (e: { reason: string }) => show(`halted: ${e.reason}`);
  rebalancer.on("phase", onPhase);
  rebalancer.on("order:sending", onSending);
  rebalancer.on("order:submitted", onSubmitted);
  rebalancer.on("order:final", onFinal);
  rebalancer.on("halted", onHalted);
  return {
    end() {
      rebalancer.off("phase", onPhase);
      rebalancer.off("order:sending", onSending);
      rebalancer.off("order:submitted", onSubmitted);
      rebalancer.off("order:final", onFinal);
      rebalancer.off("halted", onHalted);
      if (tty) out.write("\n");
    },
  };
}
