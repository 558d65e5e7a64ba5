import { z } from "zod";
import type { OrderSide } from "../../broker/broker-port.js";
import { ValidationError } from "../../core/errors.js";
import { parseInput } from "../../core/validation.js";
import { MAX_GENERATIONS } from "../resume-generations.js";
import {
  EXECUTION_POLICY_DEFAULTS as D,
  type ExecutionPolicy,
  type ExecutionPolicyInput,
  type ExecutionPresetName,
  parseExecutionPolicy,
} from "./execution-policy.js";

/** A policy, or the name of a preset. */
export type PolicyOrPreset = ExecutionPolicyInput | ExecutionPresetName;

/**
 * The `execution` option of a rebalance: one policy (or preset) for every leg, or a policy
 * per leg: by symbol first, then by side, then `default`. A leg none of them names goes as a
 * market order, exactly as without the option.
 *
 * @example
 * ```ts
 * const execution: ExecutionChoiceInput = { default: "marketable", symbols: { TQQQ: "patient" } };
 * ```
 */
export type ExecutionChoiceInput =
  | PolicyOrPreset
  | {
      default?: PolicyOrPreset | undefined;
      buy?: PolicyOrPreset | undefined;
      sell?: PolicyOrPreset | undefined;
      symbols?: Record<string, PolicyOrPreset> | undefined;
    };

/** A checked {@link ExecutionChoiceInput}. */
export interface ExecutionChoice {
  readonly default: ExecutionPolicy | undefined;
  readonly buy: ExecutionPolicy | undefined;
  readonly sell: ExecutionPolicy | undefined;
  readonly symbols: ReadonlyMap<string, ExecutionPolicy>;
}

const zPolicyOrPreset = z.union([z.string(), z.record(z.string(), z.unknown())]);
const ChoiceSchema = z.union([
  z.string(),
  z
    .object({
      default: zPolicyOrPreset.optional(),
      buy: zPolicyOrPreset.optional(),
      sell: zPolicyOrPreset.optional(),
      symbols: z.record(z.string().min(1).max(32), zPolicyOrPreset).optional(),
    })
    .strict(),
  z.record(z.string(), z.unknown()),
]);

/**
 * Checks the `execution` option of a rebalance: each policy as {@link parseExecutionPolicy}
 * checks it, and what a rebalance cannot do refused before anything is sent.
 *
 * @param raw - the option
 * @param path - where it sits, for the error
 * @returns the checked choice
 * @throws ValidationError (`validation`) for a bad policy; for `finalAction: "hold"` (a
 *   rebalance follows every order to a final state: use `"cancel"`, or {@link executeLeg}
 *   alone to leave a limit working); for a stepped policy whose steps and market final action
 *   need more client order ids than a (symbol, side) of a run has (`MAX_GENERATIONS`)
 * @example
 * ```ts
 * policyFor(parseExecutionChoice("patient"), "SPY", "buy")?.type; // "stepped_limit"
 * ```
 */
export function parseExecutionChoice(raw: unknown, path = "execution"): ExecutionChoice {
  const v = parseInput(ChoiceSchema, raw, path);
  const one = (p: unknown, at: string) => (p === undefined ? undefined : checked(p, at));
  if (typeof v === "string" || "type" in v) {
    return { default: checked(v, path), buy: undefined, sell: undefined, symbols: new Map() };
  }
  const symbols = new Map<string, ExecutionPolicy>();
  const bySymbol = v.symbols;
  if (typeof bySymbol === "object" && bySymbol !== null) {
    for (const [symbol, p] of Object.entries(bySymbol)) {
      symbols.set(symbol.toUpperCase(), checked(p, `${path}.symbols.${symbol}`));
    }
  }
  return {
    default: one(v.default, `${path}.default`),
    buy: one(v.buy, `${path}.buy`),
    sell: one(v.sell, `${path}.sell`),
    symbols,
  };
}

/**
 * The policy of one leg: by symbol, then by side, then the default.
 *
 * @param choice - the checked choice (undefined: none)
 * @param symbol - the leg's symbol
 * @param side - the leg's side
 * @returns the policy, or undefined for a plain market order
 * @example
 * ```ts
 * policyFor(parseExecutionChoice({ sell: "marketable" }), "SPY", "buy"); // undefined
 * ```
 */
export function policyFor(
  choice: ExecutionChoice | undefined,
  symbol: string,
  side: OrderSide,
): ExecutionPolicy | undefined {
  if (choice === undefined) return undefined;
  return choice.symbols.get(symbol) ?? choice[side] ?? choice.default;
}

function checked(raw: unknown, path: string): ExecutionPolicy {
  let p: ExecutionPolicy;
  try {
    p = parseExecutionPolicy(raw);
  } catch (e) {
    if (e instanceof ValidationError) {
      throw new ValidationError(`${path}: ${e.message}`, { issues: [...e.issues], cause: e });
    }
    throw e;
  }
  if (p.type !== "stepped_limit") return p;
  const final = p.finalAction ?? D.finalAction;
  if (final === "hold") {
    throw refused(path, 'finalAction "hold" leaves an order working after the run: use "cancel" or "market"');
  }
  const ids = (p.steps ?? D.steps) + (final === "market" ? 1 : 0);
  if (ids > MAX_GENERATIONS) {
    throw refused(
      path,
      `${p.steps ?? D.steps} steps${final === "market" ? " and a market final action" : ""} need ${ids} client order ids; a leg has ${MAX_GENERATIONS}`,
    );
  }
  return p;
}

function refused(path: string, message: string): ValidationError {
  return new ValidationError(`${path}: ${message}`, { issues: [{ path, message, value: undefined }] });
}
