import { z } from "zod";
import { type Decimal, isDecimal, toDecimal } from "./decimal.js";
import { ValidationError, type ValidationIssue } from "./errors.js";

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const MAX_SHOWN = 80;

/** Shows a value in an error message, shortened. */
export function showValue(value: unknown): string {
  let s: string;
  if (isDecimal(value)) s = value.toString();
  else if (typeof value === "string") s = JSON.stringify(value);
  else if (typeof value === "number" || typeof value === "boolean" || value == null) s = String(value);
  else if (typeof value === "bigint") s = `${value}n`;
  else {
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
  if (typeof value !== "object" || value === null || seen.has(value) || isDecimal(value)) return undefined;
  if (value instanceof Date) return undefined;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const p = joinPath(path, String(k));
      if (typeof k === "string" && FORBIDDEN_KEYS.has(k)) return p;
      const found = findForbiddenKey(v, p, seen);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key !== "string") continue;
    const p = joinPath(path, key);
    if (FORBIDDEN_KEYS.has(key)) return p;
    const found = findForbiddenKey((value as Record<string, unknown>)[key], p, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return base === "" ? key : `${base}.${key}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur instanceof Map) cur = cur.get(key);
    else if (typeof cur === "object" && cur !== null) cur = (cur as Record<PropertyKey, unknown>)[key];
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
    const where = issue.code === "unrecognized_keys" ? issue.path : issue.path;
    return { path, message: issue.message, value: valueAt(input, where) };
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
  const forbidden = findForbiddenKey(input, root);
  if (forbidden !== undefined) {
    const issues = [{ path: forbidden, message: "forbidden key", value: undefined }];
    throw new ValidationError(`invalid ${root}: ${forbidden}: forbidden key`, { issues });
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = issuesFromZod(result.error, input, root);
  throw new ValidationError(`invalid ${root}: ${describeIssues(issues)}`, { issues, cause: result.error });
}

/** A zod schema accepting a {@link DecimalLike} and producing a finite {@link Decimal}. */
export const zDecimal = z
  .custom<Decimal | string | number>(
    (v) =>
      (isDecimal(v) && v.isFinite()) ||
      (typeof v === "number" && Number.isFinite(v)) ||
      (typeof v === "string" && /^\s*[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?\s*$/i.test(v)),
    { message: "expected a finite decimal (a decimal, a numeric string or a finite number)" },
  )
  .transform((v): Decimal => toDecimal(v));

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
