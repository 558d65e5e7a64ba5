import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import type { OrderSnapshot } from "../broker/broker-port.js";
import { systemClock } from "../core/clock.js";
import { OrdersafeError } from "../core/errors.js";
import { parseInput, zSymbol } from "../core/validation.js";
import { createSimulatedBroker, type SimulatedBroker } from "../testing/simulated-broker/simulated-broker.js";

/**
 * The account a new `ORDERSAFE_SIM_STATE` file starts with: $100,000 cash, no positions, and
 * prices for a few symbols (edit the file to change them).
 */
export const SIM_STATE_DEFAULTS = {
  cash: "100000",
  prices: { SPY: "500", QQQ: "430", BIL: "91.5", TECL: "52.6", FNGU: "33.05" },
} as const;

const zDecimalText = z.string().regex(/^-?\d+(\.\d+)?$/, { message: "expected a decimal string" });

const SimOrderSchema = z
  .object({
    id: z.string().min(1),
    clientOrderId: z.string().min(1),
    symbol: zSymbol,
    side: z.enum(["buy", "sell"]),
    qty: zDecimalText.nullable(),
    notional: zDecimalText.nullable(),
    filledQty: zDecimalText,
    filledAvgPrice: zDecimalText.nullable(),
    status: z.string().min(1),
    updatedAt: z.string().min(1),
  })
  .strict();

/** A stored order, as the `orders` command shows it. */
export type SimOrder = z.infer<typeof SimOrderSchema>;

const SimStateSchema = z
  .object({
    version: z.literal(1),
    cash: zDecimalText,
    prices: z.record(zSymbol, zDecimalText),
    positions: z.record(zSymbol, zDecimalText),
    orders: z.array(SimOrderSchema),
  })
  .strict();

/** The simulated account kept between commands. */
export type SimState = z.infer<typeof SimStateSchema>;

/**
 * Reads the state file, or the default account when the file does not exist.
 *
 * @throws OrdersafeError (`config`) for a file that is not JSON; ValidationError (`validation`)
 *   for JSON that is not a state
 */
export async function loadSimState(path: string): Promise<SimState> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (isNotFound(e)) {
      return {
        version: 1,
        cash: SIM_STATE_DEFAULTS.cash,
        prices: { ...SIM_STATE_DEFAULTS.prices },
        positions: {},
        orders: [],
      };
    }
    throw new OrdersafeError("config", `[ordersafe] cannot read ORDERSAFE_SIM_STATE ${path}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new OrdersafeError("config", `[ordersafe] ORDERSAFE_SIM_STATE ${path} is not JSON`, { cause: e });
  }
  return parseInput(SimStateSchema, json, "simState");
}

function isNotFound(e: unknown): boolean {
  return typeof e === "object" && e !== null && "code" in e && e.code === "ENOENT";
}

/**
 * A simulated broker on the system clock holding the state's cash, positions and prices.
 *
 * @param state - the stored account
 * @returns the broker
 */
export function simulatedBrokerFrom(state: SimState): SimulatedBroker {
  return createSimulatedBroker({
    clock: systemClock,
    // Order ids come from the seed: a fresh one per command keeps them unique across commands.
    seed: (systemClock.now() + state.orders.length * 7919) % 2_147_483_647,
    cash: state.cash,
    positions: state.positions,
    prices: state.prices,
  });
}

/** An order as stored. */
export function simOrderOf(o: OrderSnapshot): SimOrder {
  return {
    id: o.id,
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: o.side,
    qty: o.qty?.toFixed() ?? null,
    notional: o.notional?.toFixed() ?? null,
    filledQty: o.filledQty.toFixed(),
    filledAvgPrice: o.filledAvgPrice?.toFixed() ?? null,
    status: o.status,
    updatedAt: o.updatedAt.toISOString(),
  };
}

/**
 * The state after the commands's trades: the broker's cash and positions now, and every order
 * (those stored before, and this process's, replacing a stored one of the same id).
 *
 * @param before - the state the broker was made from
 * @param broker - the broker
 * @returns the new state
 */
export function simStateAfter(before: SimState, broker: SimulatedBroker): SimState {
  const truth = broker.truth();
  const positions: Record<string, string> = {};
  for (const [symbol, qty] of truth.positions) if (!qty.isZero()) positions[symbol] = qty.toFixed();
  const mine = broker.orders().map(simOrderOf);
  const ids = new Set(mine.map((o) => o.id));
  return {
    version: 1,
    cash: truth.cash.toFixed(),
    prices: before.prices,
    positions,
    orders: [...before.orders.filter((o) => !ids.has(o.id)), ...mine],
  };
}

/**
 * Writes the state (to a temporary file, then renamed over the old one).
 *
 * @param path - the state file
 * @param state - the state
 */
export async function saveSimState(path: string, state: SimState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, path);
}
