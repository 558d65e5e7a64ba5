import { isObject } from "./guards.js";

/**
 * Every reason a broker refuses or fails a call, in a stable order. See DESIGN.md's contract
 * for what each means.
 *
 * @remarks
 * `unavailable` means the request certainly did not take effect (5xx, refused connection);
 * `ambiguous` means it may have (timeout or connection lost after sending): an ambiguous
 * submit must be looked up by client order id before anything is sent again.
 *
 * @example
 * ```ts
 * const retryable = BROKER_ERROR_CODES.filter((c) => new BrokerError(c, "x").retryable);
 * ```
 */
export const BROKER_ERROR_CODES = [
  "insufficient_buying_power",
  "insufficient_quantity",
  "wash_trade",
  "min_notional",
  "not_fractionable",
  "duplicate_client_order_id",
  "invalid_order",
  "not_found",
  "not_cancelable",
  "market_closed",
  "rate_limited",
  "unavailable",
  "ambiguous",
  "unauthorized",
  "forbidden",
  "protocol",
  "rejected",
] as const;

/** Why a broker refused or failed a call: one of {@link BROKER_ERROR_CODES}. */
export type BrokerErrorCode = (typeof BROKER_ERROR_CODES)[number];

/**
 * Codes of ordersafe's own errors: `validation` (bad input, nothing done), `invalid_state`
 * (a call the object cannot take now), `halted` (the circuit breaker is open), `aborted`
 * (the caller's signal), `config` (a setup problem such as a missing credential),
 * `unsettled` (a position or account read never showed the fills the library knows, within
 * the bound), `journal_locked` (another live process holds the account's journal),
 * `journal_corrupt` (a journal line that is not the last fails its checksum or schema),
 * `journal_io` (a journal read, write or sync failed), `coordination_unavailable` (the shared
 * coordination store, Redis, cannot be reached: nothing is traded uncoordinated), `lease_held`
 * (another process holds the account's lease), `lease_lost` (this process's lease passed to
 * another: it stops before its next write), `strategy_cap` (a buy would take its strategy past
 * its cap: not sent), and every {@link BrokerErrorCode}, in a stable order.
 *
 * @example
 * ```ts
 * ORDERSAFE_ERROR_CODES.includes("validation"); // true
 * ```
 */
export const ORDERSAFE_ERROR_CODES = [
  "validation",
  "invalid_state",
  "halted",
  "aborted",
  "config",
  "unsettled",
  "journal_locked",
  "journal_corrupt",
  "journal_io",
  "coordination_unavailable",
  "lease_held",
  "lease_lost",
  "strategy_cap",
  ...BROKER_ERROR_CODES,
] as const;

/** The code of any ordersafe error: one of {@link ORDERSAFE_ERROR_CODES}. */
export type OrdersafeErrorCode = (typeof ORDERSAFE_ERROR_CODES)[number];

const BRAND = Symbol.for("ordersafe.error");
const BROKER_BRAND = Symbol.for("ordersafe.broker-error");

const RETRYABLE: ReadonlySet<OrdersafeErrorCode> = new Set(["rate_limited", "unavailable", "ambiguous"]);

/** Options of {@link OrdersafeError}. */
export interface OrdersafeErrorOptions {
  /** Structured facts about the error (never credentials). */
  details?: Record<string, unknown>;
  /** The underlying error. */
  cause?: unknown;
  /** Overrides whether retrying the same call may succeed. */
  retryable?: boolean;
}

/**
 * The base of every error ordersafe throws.
 *
 * @remarks
 * Branded with `Symbol.for("ordersafe.error")`: use {@link isOrdersafeError} rather than
 * `instanceof`, which fails across the ESM and CJS copies of the package.
 *
 * @example
 * ```ts
 * try { await rebalancer.rebalance(targets); }
 * catch (e) { if (isOrdersafeError(e) && e.code === "validation") console.error(e.message); }
 * ```
 */
export class OrdersafeError extends Error {
  /** What went wrong, as a literal union to branch on. */
  readonly code: OrdersafeErrorCode;
  /** Whether the same call may succeed if retried. */
  readonly retryable: boolean;
  /** Structured facts about the error. */
  readonly details: Readonly<Record<string, unknown>>;

  /**
   * @param code - the error code
   * @param message - a message; `[ordersafe]` is prefixed when missing
   * @param options - details, cause, retryable
   */
  constructor(code: OrdersafeErrorCode, message: string, options: OrdersafeErrorOptions = {}) {
    super(prefix(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OrdersafeError";
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
    this.details = Object.freeze({ ...(options.details ?? {}) });
    Object.defineProperty(this, BRAND, { value: true });
  }
}

function prefix(message: string): string {
  return message.startsWith("[ordersafe") ? message : `[ordersafe] ${message}`;
}

/** One problem found in an input. */
export interface ValidationIssue {
  /** Where, as a dotted path (`"targets.weights.TECL"`). */
  path: string;
  /** What is wrong. */
  message: string;
  /** The offending value. */
  value?: unknown;
}

/** The longest text an issue's value keeps (longer text is cut and ends with `…`). */
export const ISSUE_VALUE_MAX_CHARS = 80;

/**
 * What a {@link ValidationIssue} may carry as its value: the offending value only, never a
 * whole object (an options object can hold an environment or credentials). A number,
 * boolean, bigint, null, undefined or date is kept; text is cut to
 * {@link ISSUE_VALUE_MAX_CHARS}; a decimal becomes its text; a list of at most 10 plain
 * values is kept (each cut); any other object becomes a short description of its shape
 * (`{ env, paperr }`, `[array of 30]`), never its contents.
 *
 * @param value - the offending value
 * @returns the value to keep in the issue
 * @example
 * ```ts
 * shownIssueValue({ env: process.env, paperr: true }); // "{ env, paperr }"
 * shownIssueValue("x".repeat(200)).length; // 81
 * ```
 */
export function shownIssueValue(value: unknown): unknown {
  try {
    return shownValue(value);
  } catch {
    // A proxy whose traps throw, or an object whose prototype cannot be read.
    return "[unreadable]";
  }
}

function shownValue(value: unknown): unknown {
  if (typeof value === "string") return cut(value);
  if (typeof value === "function") return "[function]";
  if (typeof value === "symbol") return cut(String(value));
  if (!isObject(value) || value instanceof Date) return value;
  if (isDecimalLike(value)) return cut(String(value));
  if (Array.isArray(value)) {
    // A short list of plain values (the names of unknown keys) is the offending value itself.
    const plain = value.length <= 10 && value.every((v) => !isObject(v) && typeof v !== "function");
    return plain ? value.map(shownIssueValue) : `[array of ${value.length}]`;
  }
  if (value instanceof Map) return `[map of ${value.size}]`;
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch {
    return "[object]";
  }
  return cut(keys.length === 0 ? "{}" : `{ ${keys.join(", ")} }`);
}

function cut(text: string): string {
  return text.length > ISSUE_VALUE_MAX_CHARS ? `${text.slice(0, ISSUE_VALUE_MAX_CHARS)}…` : text;
}

/** A decimal.js value, recognised by shape (this module sits below the decimal helpers). */
function isDecimalLike(value: object): boolean {
  try {
    const v: Record<string, unknown> = { ...value };
    return "d" in v && "e" in v && "s" in v && typeof Reflect.get(value, "toFixed") === "function";
  } catch {
    return false;
  }
}

/** Options of {@link ValidationError}. */
export interface ValidationErrorOptions {
  /** Each problem found. */
  issues: ValidationIssue[];
  /** The underlying error (a zod error). */
  cause?: unknown;
}

/**
 * Bad input: raised before anything is sent, so nothing is half-done.
 *
 * @example
 * ```ts
 * new ValidationError("targets.weights.TECL: expected a number ≥ 0", { issues: [...] });
 * ```
 */
export class ValidationError extends OrdersafeError {
  /** Each problem found, with its path and offending value. */
  readonly issues: readonly ValidationIssue[];

  /**
   * @param message - what is wrong
   * @param options - the issues and the cause
   */
  constructor(message: string, options: ValidationErrorOptions) {
    const issues = Object.freeze(options.issues.map(shownIssue));
    super("validation", message, {
      cause: options.cause,
      details: { issues },
      retryable: false,
    });
    this.name = "ValidationError";
    this.issues = issues;
  }
}

/** An issue whose value is cut to what {@link shownIssueValue} keeps. */
function shownIssue(issue: ValidationIssue): ValidationIssue {
  const shown: ValidationIssue = { path: issue.path, message: issue.message };
  if ("value" in issue) shown.value = shownIssueValue(issue.value);
  return Object.freeze(shown);
}

/** Options of {@link BrokerError}. */
export interface BrokerErrorOptions {
  /** For `rate_limited`: how long to wait before the next call. */
  retryAfterMs?: number;
  /** The broker's own code, as a string (`"40310000"`). */
  brokerCode?: string;
  /** Structured facts (never credentials). */
  details?: Record<string, unknown>;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * A broker refused or failed a call. Thrown by every `BrokerPort`.
 *
 * @example
 * ```ts
 * throw new BrokerError("insufficient_buying_power", "insufficient buying power", { brokerCode: "40310000" });
 * ```
 */
export class BrokerError extends OrdersafeError {
  declare readonly code: BrokerErrorCode;
  /** For `rate_limited`: how long to wait before the next call. */
  readonly retryAfterMs: number | undefined;
  /** The broker's own code. */
  readonly brokerCode: string | undefined;

  /**
   * @param code - one of {@link BrokerErrorCode}
   * @param message - the broker's message, or ours
   * @param options - retryAfterMs, brokerCode, details, cause
   */
  constructor(code: BrokerErrorCode, message: string, options: BrokerErrorOptions = {}) {
    super(code, message, { details: options.details, cause: options.cause });
    this.name = "BrokerError";
    this.retryAfterMs = options.retryAfterMs;
    this.brokerCode = options.brokerCode;
    Object.defineProperty(this, BROKER_BRAND, { value: true });
  }
}

/**
 * Whether a value is an error thrown by ordersafe (any copy of the package).
 *
 * @param value - anything
 * @returns true for an {@link OrdersafeError}
 */
export function isOrdersafeError(value: unknown): value is OrdersafeError {
  return isObject(value) && value[BRAND] === true;
}

/**
 * Whether a value is a {@link BrokerError} (any copy of the package), optionally of one code.
 *
 * @param value - anything
 * @param code - when given, the code it must have
 * @returns true for a broker error (of that code)
 */
export function isBrokerError(value: unknown, code?: BrokerErrorCode): value is BrokerError {
  if (!isObject(value) || value[BROKER_BRAND] !== true) return false;
  return code === undefined || value.code === code;
}

/**
 * Whether a value is a {@link ValidationError} (any copy of the package).
 *
 * @param value - anything
 * @returns true for a validation error
 */
export function isValidationError(value: unknown): value is ValidationError {
  return isOrdersafeError(value) && value.code === "validation";
}
