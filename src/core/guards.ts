/**
 * A non-null object whose properties are read as `unknown`: what a payload, a thrown value
 * or an injected object is before it is checked.
 */
export type UnknownRecord = Readonly<Record<PropertyKey, unknown>>;

/**
 * Whether a value is a non-null object (a plain object, an array, an error, a class
 * instance), so its properties can be read, each as `unknown`.
 *
 * @param value - anything
 * @returns true for any non-null object; false for primitives, null and functions
 * @example
 * ```ts
 * if (isObject(e) && typeof e.status === "number") console.log(e.status);
 * ```
 */
export function isObject(value: unknown): value is UnknownRecord {
  return typeof value === "object" && value !== null;
}

/**
 * Whether a value is an own key of a table, so `table[value]` is one of its entries.
 *
 * @param table - a lookup table (`{ new: "new", filled: "filled" }`)
 * @param value - anything
 * @returns true when `value` is a string naming an own property of `table`
 * @example
 * ```ts
 * const status = isKeyOf(ALPACA_ORDER_STATUS, raw) ? ALPACA_ORDER_STATUS[raw] : undefined;
 * ```
 */
export function isKeyOf<T extends object>(table: T, value: unknown): value is keyof T & string {
  return typeof value === "string" && Object.hasOwn(table, value);
}

/**
 * Whether a value is one of a vocabulary's values.
 *
 * @param values - the vocabulary (an `as const` array such as `ORDER_SIDES`)
 * @param value - anything
 * @returns true when `value` is one of `values`
 * @example
 * ```ts
 * if (isOneOf(ORDER_SIDES, raw)) side = raw; // "buy" | "sell"
 * ```
 */
export function isOneOf<T>(values: readonly T[], value: unknown): value is T {
  return values.some((v) => v === value);
}

/**
 * Whether a value is an object with a function under each of the given names: how an
 * injected port, clock or logger is recognised, since it may come from any library.
 *
 * @param value - anything
 * @param methods - the names that must be functions
 * @returns true for a non-null object with every method
 * @example
 * ```ts
 * hasMethods(console, ["debug", "info", "warn", "error"]); // true
 * ```
 */
export function hasMethods(value: unknown, methods: readonly string[]): value is UnknownRecord {
  return isObject(value) && methods.every((m) => typeof value[m] === "function");
}

/**
 * Reads a property of any value, as `value[key]` does, typed `unknown`: undefined for null
 * and undefined instead of a TypeError. For walking what a library threw (causes, codes).
 *
 * @param value - anything
 * @param key - the property
 * @returns the property's value, or undefined
 * @example
 * ```ts
 * const code = propertyOf(error.cause, "code"); // "ECONNREFUSED", or undefined
 * ```
 */
export function propertyOf(value: unknown, key: PropertyKey): unknown {
  return value === null || value === undefined ? undefined : Reflect.get(Object(value), key);
}
