import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { OrdersafeError } from "../core/errors.js";
import { parseInput } from "../core/validation.js";
import { type RebalanceTargetsInput, RebalanceTargetsSchema } from "../rebalance/rebalance-input.js";
import { PositionBook } from "../reconcile/position-book.js";

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new OrdersafeError("config", `[ordersafe] cannot read the ${what} ${path}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new OrdersafeError("config", `[ordersafe] the ${what} ${path} is not JSON`, { cause: e });
  }
}

/**
 * Reads a targets file: `{ "weights": {…} }`, `{ "quantities": {…} }` or `{ "notionals": {…} }`
 * (exactly one), checked with `RebalanceTargetsSchema`.
 *
 * @param cwd - where a relative path starts
 * @param path - the file
 * @returns the targets, as the file gave them
 * @throws OrdersafeError (`config`) for a missing or non-JSON file; ValidationError
 *   (`validation`) for JSON that is not targets
 */
export async function readTargets(cwd: string, path: string): Promise<RebalanceTargetsInput> {
  const json = await readJson(resolve(cwd, path), "targets file");
  return parseInput(RebalanceTargetsSchema, json, "targets");
}

/**
 * Reads the book, or undefined when there is none yet.
 *
 * @throws OrdersafeError (`config`) for a non-JSON file; ValidationError (`validation`) for a bad book
 */
export async function readBook(path: string): Promise<PositionBook | undefined> {
  try {
    await readFile(path);
  } catch {
    return undefined;
  }
  return PositionBook.fromJSON(await readJson(path, "book"));
}

/** Writes a text file whole (to a temporary file, then renamed), creating its directory. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Writes the book. */
export async function writeBook(path: string, book: PositionBook): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(book.toJSON(), null, 2)}\n`);
}
