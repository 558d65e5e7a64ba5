import { createHash } from "node:crypto";
import { ValidationError } from "./errors.js";

/** The longest client order id ordersafe makes (Alpaca allows 48 characters). */
export const MAX_CLIENT_ORDER_ID_LENGTH = 48;

/** What a client order id is derived from. */
export interface ClientOrderIdParts {
  /** The run (a rebalance) the order belongs to. */
  runId: string;
  /** The symbol traded. */
  symbol: string;
  /** The side. */
  side: "buy" | "sell";
  /** 0 for the first order of this intent, +1 for every new order of the same intent. */
  generation: number;
}

function readable(s: string, max: number): string {
  return s.replace(/[^A-Za-z0-9]/g, "").slice(0, max) || "x";
}

/** Every client order id ordersafe makes starts with this. */
export const CLIENT_ORDER_ID_PREFIX = "os-";

/**
 * Derives a deterministic client order id from (runId, symbol, side, generation).
 *
 * @remarks
 * At most 48 characters of `[A-Za-z0-9-_]`, the same in every process for the same parts
 * (so a resumed run finds its own orders), and distinct for distinct parts: a readable head
 * (`os-<run>-<symbol>-<b|s><generation>`) and 16 characters of a SHA-256 of the exact parts.
 *
 * @param parts - runId, symbol, side, generation (an integer ≥ 0)
 * @returns the client order id
 * @throws ValidationError (`validation`) for an empty runId or symbol or a bad generation
 * @example
 * ```ts
 * clientOrderId({ runId: "2026-11-25", symbol: "TECL", side: "buy", generation: 0 });
 * // "os-20261125-TECL-b0-…"
 * ```
 */
export function clientOrderId(parts: ClientOrderIdParts): string {
  const { runId, symbol, side, generation } = parts;
  if (typeof runId !== "string" || runId.length === 0 || typeof symbol !== "string" || symbol.length === 0) {
    throw new ValidationError("clientOrderId: runId and symbol must be non-empty strings", {
      issues: [{ path: "runId", message: "expected non-empty strings", value: { runId, symbol } }],
    });
  }
  if (side !== "buy" && side !== "sell") {
    throw new ValidationError("clientOrderId: side must be buy or sell", {
      issues: [{ path: "side", message: "expected buy or sell", value: side }],
    });
  }
  if (!Number.isSafeInteger(generation) || generation < 0) {
    throw new ValidationError("clientOrderId: generation must be an integer ≥ 0", {
      issues: [{ path: "generation", message: "expected an integer ≥ 0", value: generation }],
    });
  }
  const digest = createHash("sha256")
    .update(JSON.stringify([runId, symbol, side, generation]))
    .digest("base64url")
    .slice(0, 16);
  const gen = generation.toString(36);
  const tail = `${readable(symbol, 8)}-${side === "buy" ? "b" : "s"}${gen}`;
  // A named strategy's run id is `<strategy>~<run>` (strategyRunId): its ids start `os-<strategy>_`.
  const cut = runId.indexOf(STRATEGY_SEPARATOR);
  const strategy = cut > 0 ? runId.slice(0, cut) : "";
  const head = STRATEGY_ID_PATTERN.test(strategy)
    ? `${CLIENT_ORDER_ID_PREFIX}${strategy}_${readable(runId.slice(cut + 1), 6)}-${tail}`
    : `${CLIENT_ORDER_ID_PREFIX}${readable(runId, 10)}-${tail}`;
  return `${head.slice(0, MAX_CLIENT_ORDER_ID_LENGTH - 17)}-${digest}`;
}

/**
 * Makes a run id from a time and some entropy (a seed, a counter), for runs the caller did
 * not name.
 *
 * @param nowMs - the current time in ms
 * @param entropy - anything that tells two runs at the same millisecond apart
 * @returns an id such as `r20261125T035121-k3j2`
 */
export function makeRunId(nowMs: number, entropy: string | number): string {
  const iso = new Date(nowMs).toISOString().replace(/[-:]/g, "").slice(0, 15);
  const tail = createHash("sha256").update(`${nowMs}:${entropy}`).digest("base64url").slice(0, 6);
  return `r${iso}-${tail.replace(/[^A-Za-z0-9]/g, "x")}`;
}

/** The strategy a bot trades for when it names none: it stands for the account's owner. */
export const DEFAULT_STRATEGY_ID = "default";

/** What a strategy id may be: 1 to 12 letters and digits (it is carried in client order ids). */
export const STRATEGY_ID_PATTERN = /^[A-Za-z0-9]{1,12}$/;

/** Between a named strategy and its run in a run id. Never in a caller's run id. */
export const STRATEGY_SEPARATOR = "~";

/**
 * The run id a strategy's run uses: the caller's run id for the default strategy (so its client
 * order ids are what they always were), `<strategy>~<runId>` for a named one.
 *
 * @param strategyId - the strategy
 * @param runId - the caller's (or a generated) run id
 * @returns the run id client order ids derive from
 * @example
 * ```ts
 * strategyRunId("momentum", "r1"); // "momentum~r1"
 * strategyRunId("default", "r1"); // "r1"
 * ```
 */
export function strategyRunId(strategyId: string, runId: string): string {
  return strategyId === DEFAULT_STRATEGY_ID ? runId : `${strategyId}${STRATEGY_SEPARATOR}${runId}`;
}

/**
 * The strategy that owns an order, read from its client order id: a named strategy's ids start
 * `os-<strategy>_`; every other order (the default strategy's, a person's, another tool's)
 * belongs to the default strategy, which stands for the account's owner.
 *
 * @param clientOrderId - the order's client order id
 * @returns the owning strategy id
 * @example
 * ```ts
 * strategyOfClientOrderId("os-momentum_r1-TECL-b0-…"); // "momentum"
 * strategyOfClientOrderId("manual-123"); // "default"
 * ```
 */
export function strategyOfClientOrderId(clientOrderId: string): string {
  const m = /^os-([A-Za-z0-9]{1,12})_/.exec(clientOrderId);
  return m?.[1] ?? DEFAULT_STRATEGY_ID;
}
