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
  const head = `${CLIENT_ORDER_ID_PREFIX}${readable(runId, 10)}-${readable(symbol, 8)}-${side === "buy" ? "b" : "s"}${gen}`;
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
