import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decimal, type JournalEntryInput, type Logger } from "ordersafe";

/** A fresh temporary directory, and its removal. */
export function tempDir(prefix = "ordersafe-journal-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A run's start, with decimals and dates given as a caller would (Decimals, Dates). */
export function runStart(runId: string, at = 1_000): JournalEntryInput {
  return {
    type: "run_start",
    runId,
    at,
    strategyId: "core",
    targets: { weights: { TECL: new Decimal("0.5"), BIL: "0.45" } },
    options: { cashBuffer: "0.0025", correction: "report", maxOrders: 20 },
    account: {
      cash: new Decimal("10000.5"),
      buyingPower: new Decimal("20001"),
      equity: "25000",
      currency: "USD",
      tradingBlocked: false,
      asOf: new Date("2026-11-25T14:30:00.000Z"),
    },
    positions: [
      { symbol: "FNGU", qty: new Decimal("120"), qtyAvailable: new Decimal("120"), currentPrice: "33.05" },
      { symbol: "TECL", qty: "10.123456789", qtyAvailable: "10.123456789" },
    ],
  };
}

/** A leg the run means to trade. */
export function intent(runId: string, symbol = "TECL", at = 1_001): JournalEntryInput {
  return {
    type: "intent",
    runId,
    at,
    symbol,
    side: "buy",
    notional: new Decimal("1250.75"),
    orderType: "market",
    reason: "rebalance",
  };
}

/** A submit about to be sent. */
export function submit(runId: string, sendId: string, at = 1_002): JournalEntryInput {
  return {
    type: "send",
    runId,
    at,
    sendId,
    op: "submit",
    request: {
      clientOrderId: sendId,
      symbol: "TECL",
      side: "buy",
      type: "market",
      timeInForce: "day",
      notional: new Decimal("1250.75"),
    },
  };
}

/** The broker's acceptance of a send. */
export function accepted(runId: string, sendId: string, at = 1_003): JournalEntryInput {
  return {
    type: "answer",
    runId,
    at,
    sendId,
    result: "accepted",
    order: { id: `id-${sendId}`, clientOrderId: sendId, status: "accepted", filledQty: new Decimal(0) },
  };
}

/** A refusal with a long, non-ASCII message. */
export function refused(runId: string, sendId: string, at = 1_004): JournalEntryInput {
  return {
    type: "answer",
    runId,
    at,
    sendId,
    result: "refused",
    code: "insufficient_buying_power",
    brokerCode: "40310000",
    message: "insufficient buying power — zu wenig Kaufkraft für TECL (Überzug) ✗",
  };
}

/** An order's final state. */
export function final(runId: string, sendId: string, at = 1_005): JournalEntryInput {
  return {
    type: "final",
    runId,
    at,
    order: {
      id: `id-${sendId}`,
      clientOrderId: sendId,
      symbol: "TECL",
      side: "buy",
      type: "market",
      timeInForce: "day",
      notional: new Decimal("1250.75"),
      filledQty: new Decimal("23.777"),
      filledAvgPrice: new Decimal("52.6"),
      status: "filled",
      updatedAt: new Date("2026-11-25T14:30:01.000Z"),
    },
  };
}

/** A logger that keeps what it is given. */
export function captureLogger(): Logger & { lines: { level: string; args: unknown[] }[] } {
  const lines: { level: string; args: unknown[] }[] = [];
  const at =
    (level: string) =>
    (...args: unknown[]) =>
      lines.push({ level, args });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** The code of what a promise rejects with, or "resolved". */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "resolved";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}
