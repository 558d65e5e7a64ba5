import { z } from "zod";
import type { Clock } from "./clock.js";
import { Decimal, isDecimal, tryToDecimal } from "./decimal.js";
import { isOrdersafeError, shownIssueValue, ValidationError, type ValidationIssue } from "./errors.js";
import { hasMethods, isObject } from "./guards.js";
import type { Logger } from "./logger.js";

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const MAX_SHOWN = 80;

/** Shows a value in an error message, shortened. */
export function showValue(value: unknown): string {
  let s: string;
  if (isDecimal(value)) s = value.toString();
  else if (typeof value === "string") s = JSON.stringify(value);
  else if (typeof value === "number" || typeof value === "boolean" || value == null) s = String(value);
  else if (typeof value === "bigint") s = `${value}n`;
  else if (!Array.isArray(value) || !value.every((v) => v === null || typeof v !== "object")) {
    // Never an object's contents: an options object can hold an environment or credentials.
    s = String(shownIssueValue(value));
  } else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = Object.prototype.toString.call(value);
    }
  }
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s;
}

/**
 * Finds an own key that could pollute a prototype (`__proto__`, `constructor`,
 * `prototype`) anywhere in a plain value.
 *
 * @returns the dotted path of the first such key, or undefined
 */
export function findForbiddenKey(value: unknown, path = "", seen = new Set<unknown>()): string | undefined {
  const keys = forbiddenKeyPath(value, seen);
  if (keys === undefined) return undefined;
  // The path is built only once a key is found (keys come back innermost first).
  let p = path;
  for (let i = keys.length - 1; i >= 0; i--) p = joinPath(p, keys[i]!);
  return p;
}

/** The keys leading to the first forbidden key, innermost first; the walk of {@link findForbiddenKey}. */
function forbiddenKeyPath(value: unknown, seen: Set<unknown>): string[] | undefined {
  if (!isObject(value)) return undefined;
  // Decimals (the bulk of a portfolio's values) are leaves.
  if (value instanceof Decimal || seen.has(value) || isDecimal(value)) return undefined;
  if (value instanceof Date) return undefined;
  if (value instanceof Map) return forbiddenKeyPathInMap(value, seen);
  const keys = Reflect.ownKeys(value);
  let first = 0;
  // An object joins `seen` (which stops cycles and second visits) only before its walk goes
  // deeper: a record of plain values and decimals, the bulk of a portfolio, is cheaper to
  // look over again than to remember, and the first forbidden key found is the same.
  let remembered = false;
  if (Array.isArray(value)) {
    seen.add(value);
    remembered = true;
    const found = forbiddenKeyPathInElements(value, seen);
    if (found !== undefined) return found;
    first = firstNamedKey(keys, value.length);
  }
  for (let i = first; i < keys.length; i++) {
    const key = keys[i]!;
    if (typeof key !== "string") continue;
    if (FORBIDDEN_KEYS.has(key)) return [key];
    const v = value[key];
    if (typeof v !== "object" || v === null || v instanceof Decimal) continue;
    if (!remembered) {
      seen.add(value);
      remembered = true;
    }
    const found = forbiddenKeyPath(v, seen);
    if (found !== undefined) {
      found.push(key);
      return found;
    }
  }
  return undefined;
}

/** {@link forbiddenKeyPath} of a map: its string keys, then its values. */
function forbiddenKeyPathInMap(map: Map<unknown, unknown>, seen: Set<unknown>): string[] | undefined {
  seen.add(map);
  for (const [k, v] of map) {
    if (typeof k === "string" && FORBIDDEN_KEYS.has(k)) return [String(k)];
    const found = forbiddenKeyPath(v, seen);
    if (found !== undefined) {
      found.push(String(k));
      return found;
    }
  }
  return undefined;
}

/**
 * {@link forbiddenKeyPath} of an array's elements. Own keys list an array's indices first
 * (holes aside), then its other keys: the elements are read by number, much faster than by
 * their string keys.
 */
function forbiddenKeyPathInElements(array: readonly unknown[], seen: Set<unknown>): string[] | undefined {
  const n = array.length;
  for (let i = 0; i < n; i++) {
    const v = array[i];
    if (typeof v !== "object" || v === null) continue;
    const found = forbiddenKeyPath(v, seen);
    if (found !== undefined) {
      found.push(String(i));
      return found;
    }
  }
  return undefined;
}

/** Where an array's own keys past its indices start. */
function firstNamedKey(keys: readonly (string | symbol)[], length: number): number {
  // A dense array's own keys start with exactly its `length` indices.
  if (
    length > 0 &&
    keys.length >= length &&
    keys[length - 1] === String(length - 1) &&
    isIndexKey(keys[0]!, length)
  )
    return length;
  let first = 0;
  while (first < keys.length && isIndexKey(keys[first]!, length)) first++;
  return first;
}

/** Whether an own key of an array is one of its indices. */
function isIndexKey(key: string | symbol, length: number): boolean {
  if (typeof key !== "string") return false;
  const i = Number(key);
  return Number.isInteger(i) && i >= 0 && i < length && String(i) === key;
}

function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return base === "" ? key : `${base}.${key}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur instanceof Map) cur = cur.get(key);
    else if (isObject(cur)) cur = cur[key];
    else return undefined;
  }
  return cur;
}

/**
 * Turns zod issues into ordersafe issues, each with its dotted path and offending value.
 *
 * @param error - the zod error
 * @param input - the value that was parsed
 * @param root - a name for the root of the path (`"options"`)
 * @returns one issue per zod issue
 */
export function issuesFromZod(error: z.ZodError, input: unknown, root: string): ValidationIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.reduce<string>(
      (p, k) => joinPath(p, typeof k === "number" ? k : String(k)),
      root,
    );
    // An unknown key's offending value is its name, not the object that holds it.
    const value = issue.code === "unrecognized_keys" ? issue.keys : valueAt(input, issue.path);
    return { path, message: issue.message, value };
  });
}

/** Formats issues into one message line. */
export function describeIssues(issues: readonly ValidationIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path}: ${i.message} (got ${showValue(i.value)})`)
    .join("; ")
    .concat(issues.length > 5 ? `; and ${issues.length - 5} more` : "");
}

/**
 * Parses an input at a public boundary with a zod schema.
 *
 * @param schema - the zod schema
 * @param input - the caller's value
 * @param root - what the value is, named in the error (`"options"`, `"targets"`)
 * @returns the parsed value
 * @throws ValidationError (`validation`) naming each offending path and value
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, root: string): z.output<S> {
  let result: z.ZodSafeParseResult<z.output<S>>;
  try {
    const forbidden = findForbiddenKey(input, root);
    if (forbidden !== undefined) {
      const issues = [{ path: forbidden, message: "forbidden key", value: undefined }];
      throw new ValidationError(`invalid ${root}: ${forbidden}: forbidden key`, { issues });
    }
    result = schema.safeParse(input);
  } catch (error) {
    if (isOrdersafeError(error)) throw error;
    // A getter or a proxy trap threw while the input was read: refused, with where.
    throw unreadableInput(input, root, error);
  }
  if (result.success) return result.data;
  const issues = issuesFromZod(result.error, input, root);
  throw new ValidationError(`invalid ${root}: ${describeIssues(issues)}`, { issues, cause: result.error });
}

const DECIMAL_EXPECTED = "expected a finite decimal (a decimal, a numeric string or a finite number)";

/**
 * The error for an input that throws when read (a throwing getter, a proxy whose trap
 * throws): a `ValidationError` naming the first path found whose read throws (the root when
 * none is found again), with the thrown message.
 */
function unreadableInput(input: unknown, root: string, error: unknown): ValidationError {
  const path = findUnreadable(input, root, new Set()) ?? root;
  const why = error instanceof Error ? error.message : showValue(error);
  const message = `reading the value threw (${why.slice(0, MAX_SHOWN)})`;
  return new ValidationError(`invalid ${root}: ${path}: ${message}`, {
    issues: [{ path, message, value: undefined }],
    cause: error,
  });
}

/** The path of the first read that throws in `value` (own keys, prototype, property values). */
function findUnreadable(value: unknown, path: string, seen: Set<unknown>): string | undefined {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return undefined;
  if (seen.has(value)) return undefined;
  seen.add(value);
  let keys: (string | symbol)[];
  try {
    Object.getPrototypeOf(value);
    keys = Reflect.ownKeys(value);
  } catch {
    return path;
  }
  for (const key of keys) {
    if (typeof key !== "string") continue;
    let v: unknown;
    try {
      v = Reflect.get(value, key);
    } catch {
      return joinPath(path, key);
    }
    const found = findUnreadable(v, joinPath(path, key), seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A zod schema accepting a {@link DecimalLike} and producing a finite {@link Decimal}. */
export const zDecimal = z
  .custom<Decimal | string | number>((v) => isDecimal(v) || typeof v === "number" || typeof v === "string", {
    message: DECIMAL_EXPECTED,
  })
  // One read decides: NaN, a non-numeric string, or a numeric string that overflows
  // ("1e9999999999999999" reads as Infinity) is an issue at its path.
  .transform((v, ctx): Decimal => {
    const d = tryToDecimal(v);
    if (d !== undefined) return d;
    ctx.addIssue({ code: "custom", message: DECIMAL_EXPECTED });
    return z.NEVER;
  });

/** A decimal greater than zero. */
export const zPositiveDecimal = zDecimal.refine((d) => d.gt(0), { message: "expected a value > 0" });
/** A decimal at least zero. */
export const zNonNegativeDecimal = zDecimal.refine((d) => d.gte(0), { message: "expected a value ≥ 0" });

/**
 * A ticker symbol: letters, digits and `. / : _ -`, starting with a letter or digit, 1 to 32
 * characters (`"AAPL"`, `"BRK.B"`, `"BTC/USD"`).
 */
export const zSymbol = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9./:_-]{0,31}$/, { message: "expected a ticker symbol" });

/** A date, from a Date or an ISO string. */
export const zDate = z.union([z.date(), z.string().datetime({ offset: true })]).transform((v, ctx) => {
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) {
    ctx.addIssue({ code: "custom", message: "expected a valid date" });
    return z.NEVER;
  }
  return d;
});

/**
 * A zod schema for an injected object that must have the given methods (a port, a clock, a
 * logger): checked by shape, since such objects come from any library.
 *
 * @param what - what it is, for the message (`"a Clock"`)
 * @param methods - the method names it must have
 * @returns the schema
 */
export function zWithMethods<T>(what: string, methods: readonly string[]) {
  return z.custom<T>((v) => hasMethods(v, methods), {
    message: `expected ${what} (with ${methods.join(", ")})`,
  });
}

/**
 * An `AbortSignal`: a real one (this realm's class). An object that only looks like one
 * (`{ aborted: false }`) is refused: it would crash the run where a listener is added.
 */
export const zAbortSignal = z.custom<AbortSignal>((v) => v instanceof AbortSignal, {
  message: "expected an AbortSignal",
});

/** An injected {@link Clock}. */
export const zClock = zWithMethods<Clock>("a Clock", ["now", "sleep"]);
/** An injected {@link Logger}. */
export const zLogger = zWithMethods<Logger>("a Logger", ["debug", "info", "warn", "error"]);

// ---- Fast-path checks -----------------------------------------------------------------------
// Large inputs (tens of thousands of positions, orders, prices) are checked by hand on their
// common, plainly valid shape, and go through their zod schema only when something is unusual.
// Each check below accepts a subset of what the schema (and `findForbiddenKey` before it)
// accepts, and reads a value exactly as the schema would: a `false` or `undefined` only sends
// the input to the full parse, which names the offending path and value.

/** An object as the fast path reads it. */
export type RawRecord = Record<string, unknown>;

/** How a fast-path decimal is bounded (`zDecimal`, `zPositiveDecimal`, `zNonNegativeDecimal`). */
export type DecimalBound = "any" | "positive" | "nonNegative";

/**
 * Whether a string is a ticker symbol's text: `^[A-Za-z0-9][A-Za-z0-9./:_-]{0,31}$`, or with
 * `upper` `^[A-Z0-9][A-Z0-9./:_-]{0,31}$`. Read by character code: a regular expression per
 * key costs a third of reading a map of decimals.
 *
 * @param s - a string
 * @param upper - refuse lowercase letters
 * @returns true when the pattern matches
 */
export function isSymbolText(s: string, upper: boolean): boolean {
  const n = s.length;
  if (n === 0 || n > 32) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 48 && c <= 57) || // 0-9
      (c >= 65 && c <= 90) || // A-Z
      (!upper && c >= 97 && c <= 122) || // a-z
      (i > 0 && (c === 46 || c === 47 || c === 58 || c === 95 || c === 45)); // . / : _ -
    if (!ok) return false;
  }
  return true;
}

/**
 * Whether a value is a plain object (its prototype `Object.prototype` or null).
 *
 * @param v - anything
 * @returns true for `{…}` and `Object.create(null)`
 */
export function isPlainRecord(v: unknown): v is RawRecord {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Whether every own key of an object (enumerable or not) is one of `known`, and it has no
 * symbol keys: no forbidden key can hide in it.
 *
 * @param raw - a plain object
 * @param known - the keys its schema knows (none of them forbidden)
 * @returns true when no other key is present
 */
export function hasOnlyKeys(raw: RawRecord, known: ReadonlySet<string>): boolean {
  for (const k of Object.getOwnPropertyNames(raw)) if (!known.has(k)) return false;
  return Object.getOwnPropertySymbols(raw).length === 0;
}

/**
 * Whether a value is a dense array of this realm with no enumerable key besides its indices
 * and no forbidden key.
 *
 * @remarks
 * Listing every own key of an array builds a string per index (10 ms for 10,000): the
 * enumerable keys are counted instead, and the forbidden names looked up. A non-enumerable,
 * non-forbidden named property of an array is not looked into; neither zod nor the planner
 * ever reads one.
 *
 * @param v - anything
 * @returns true for a plain array
 */
export function isPlainArray(v: unknown): v is unknown[] {
  if (!Array.isArray(v) || Object.getPrototypeOf(v) !== Array.prototype) return false;
  for (const k of FORBIDDEN_KEYS) if (Object.hasOwn(v, k)) return false;
  return Object.keys(v).length === v.length;
}

/**
 * Whether every enumerable key of an object holds the very value of the same key in its
 * parsed form (so, for a fast path that writes exactly the keys given, the object given can
 * stand for the parsed one and nothing is copied).
 *
 * @param raw - the object given
 * @param parsed - its parsed form
 * @returns true when the two hold the same values
 */
export function isParsedAlready(raw: RawRecord, parsed: object): boolean {
  for (const k in raw) if (raw[k] !== Reflect.get(parsed, k)) return false;
  return true;
}

/**
 * Whether a value is a ticker symbol (`zSymbol`) and not a forbidden key.
 *
 * @param v - anything
 * @returns true for a symbol such as `"BRK.B"`
 */
export function isSymbolKey(v: unknown): v is string {
  return typeof v === "string" && isSymbolText(v, false) && !FORBIDDEN_KEYS.has(v);
}

/**
 * Whether a value is a `Date` whose time is a number (`zDate` on a date).
 *
 * @param v - anything
 * @returns true for a valid date
 */
export function isValidDate(v: unknown): v is Date {
  return v instanceof Date && !Number.isNaN(v.getTime());
}

/**
 * `zDecimal` and its bounds on one value.
 *
 * @param v - anything
 * @param bound - the schema's bound
 * @returns the decimal the schema would produce, or undefined where it would refuse the value
 */
export function fastDecimal(v: unknown, bound: DecimalBound): Decimal | undefined {
  // toDecimal's rules, overflow included ("1e9999999999999999" reads as Infinity).
  const d = tryToDecimal(v);
  if (d === undefined || bound === "any") return d;
  // Signs read directly (d.gt(0) would build a decimal for the 0); −0 counts as 0.
  if (d.isZero()) return bound === "positive" ? undefined : d;
  return d.isNegative() ? undefined : d;
}

/** Which keys a fast-path map allows. */
export type FastKeyKind = "symbol" | "upperSymbol" | "id";

/**
 * A `Map` or a plain record of key → decimal as the schema reads it, each value bounded:
 * each entry handed to `visit` in the order given.
 *
 * @remarks
 * `upperSymbol` leaves keys with a lowercase letter to the schema, for the schemas that refuse
 * symbols differing only by case: without lowercase letters no two keys can.
 *
 * @param raw - anything
 * @param bound - the values' bound
 * @param key - which keys are allowed: ticker symbols, upper-case ticker symbols, or any
 *   non-empty string (an order id); never a forbidden key
 * @param visit - receives each key, its decimal, and whether the decimal is the value given
 * @returns false (after visiting some entries) for anything the schema must look at
 */
export function visitFastDecimals(
  raw: unknown,
  bound: DecimalBound,
  key: FastKeyKind,
  visit: (k: string, d: Decimal, same: boolean) => void,
): boolean {
  const upper = key === "upperSymbol";
  const ok = (k: unknown): k is string =>
    typeof k === "string" && !FORBIDDEN_KEYS.has(k) && (key === "id" ? k.length > 0 : isSymbolText(k, upper));
  if (raw instanceof Map) {
    if (Object.getPrototypeOf(raw) !== Map.prototype) return false;
    for (const [k, v] of raw) {
      const d = ok(k) ? fastDecimal(v, bound) : undefined;
      if (d === undefined) return false;
      visit(k as string, d, d === v);
    }
    return true;
  }
  if (!isPlainRecord(raw) || Object.getOwnPropertySymbols(raw).length > 0) return false;
  for (const k of Object.getOwnPropertyNames(raw)) {
    // A non-enumerable key is skipped by the schema but looked into for forbidden keys.
    const v = ok(k) && isEnumerable(raw, k) ? raw[k] : undefined;
    const d = v === undefined ? undefined : fastDecimal(v, bound);
    if (d === undefined) return false;
    visit(k, d, d === v);
  }
  return true;
}

/**
 * {@link visitFastDecimals} into a `Map`: the one given when it already holds exactly the
 * parsed decimals (nothing is copied), else a new one.
 *
 * @param raw - anything
 * @param bound - the values' bound
 * @param key - which keys are allowed
 * @returns the map, equal to the schema's; undefined for anything the schema must look at
 */
export function fastDecimalMap(
  raw: unknown,
  bound: DecimalBound,
  key: FastKeyKind,
): ReadonlyMap<string, Decimal> | undefined {
  if (raw instanceof Map) {
    // A map of exactly the parsed decimals is used as it is; else it is read again into a copy.
    let same = true;
    const ok = visitFastDecimals(raw, bound, key, (_k, _d, s) => {
      same &&= s;
    });
    if (!ok) return undefined;
    if (same) return raw as ReadonlyMap<string, Decimal>;
  }
  const out = new Map<string, Decimal>();
  return visitFastDecimals(raw, bound, key, (k, d) => out.set(k, d)) ? out : undefined;
}

function isEnumerable(raw: RawRecord, key: string): boolean {
  return Object.prototype.propertyIsEnumerable.call(raw, key);
}
