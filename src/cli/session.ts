import { join, resolve } from "node:path";
import type { BrokerPort, OrderSnapshot } from "../broker/broker-port.js";
import { OrdersafeError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { SmartRebalancer } from "../execution/smart-rebalancer.js";
import { type AlertMonitor, watchAlerts } from "../observability/alerts.js";
import { webhookSink } from "../observability/webhook-sink.js";
import type { CliArgs } from "./args.js";
import type { CliIO } from "./io.js";
import {
  loadSimState,
  type SimOrder,
  saveSimState,
  simOrderOf,
  simStateAfter,
  simulatedBrokerFrom,
} from "./sim-state.js";

/** The broker a command works on, and what to do when it is done. */
export interface BrokerSession {
  /** `alpaca` or `simulated`. */
  readonly kind: "alpaca" | "simulated";
  /** The broker. */
  readonly broker: BrokerPort;
  /** The account's orders, newest first (only the open ones when `open`). */
  orders(open: boolean): Promise<SimOrder[]>;
  /** Keeps what changed (the simulated account's state file). */
  save(): Promise<void>;
}

/** The environment variables whose values never appear in output. */
export const SECRET_ENV = ["APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_OAUTH_TOKEN"] as const;

/**
 * The alert monitor of a command: a webhook sink when `ORDERSAFE_ALERT_WEBHOOK` is set (the
 * credentials of the environment redacted from every alert), else none.
 *
 * @throws ValidationError (`validation`) for a bad URL (not shown)
 */
export function alertsFor(
  io: CliIO,
  rebalancer: SmartRebalancer | undefined,
  logger: Logger,
): AlertMonitor | undefined {
  const url = io.env.ORDERSAFE_ALERT_WEBHOOK;
  if (url === undefined || url === "") return undefined;
  const secrets = SECRET_ENV.map((k) => io.env[k]).filter((v): v is string => v !== undefined && v !== "");
  return watchAlerts(rebalancer, { sinks: [webhookSink({ url, secrets, logger })], logger });
}

/** The directory of the book and the journal: `$ORDERSAFE_HOME` or `.ordersafe`. */
export function homeDir(io: CliIO): string {
  return resolve(io.cwd, io.env.ORDERSAFE_HOME ?? ".ordersafe");
}

/** The book file: `--book`, `$ORDERSAFE_BOOK`, or `book.json` in the home directory. */
export function bookPath(io: CliIO, args: CliArgs): string {
  const given = args.book ?? io.env.ORDERSAFE_BOOK;
  return given === undefined ? join(homeDir(io), "book.json") : resolve(io.cwd, given);
}

/**
 * Opens the broker named by the environment: `ORDERSAFE_BROKER=simulated` (with
 * `ORDERSAFE_SIM_STATE`), else Alpaca from the `APCA_*` variables (paper unless `--live`).
 *
 * @param io - the environment
 * @param args - the command line (`--live`)
 * @returns the session
 * @throws OrdersafeError (`config`) for a missing or bad setting; ValidationError
 *   (`validation`) for a bad state file or URL
 */
export async function openSession(io: CliIO, args: CliArgs): Promise<BrokerSession> {
  const kind = io.env.ORDERSAFE_BROKER ?? "alpaca";
  if (kind === "simulated") return simulatedSession(io);
  if (kind !== "alpaca") {
    throw new OrdersafeError(
      "config",
      `[ordersafe] ORDERSAFE_BROKER must be "alpaca" or "simulated", not "${kind}"`,
    );
  }
  return alpacaSession(io, args);
}

async function simulatedSession(io: CliIO): Promise<BrokerSession> {
  const file = io.env.ORDERSAFE_SIM_STATE;
  if (file === undefined || file === "") {
    throw new OrdersafeError(
      "config",
      "[ordersafe] ORDERSAFE_BROKER=simulated needs ORDERSAFE_SIM_STATE=FILE",
    );
  }
  const path = resolve(io.cwd, file);
  const before = await loadSimState(path);
  const broker = simulatedBrokerFrom(before);
  return {
    kind: "simulated",
    broker,
    async orders(open) {
      const all = simStateAfter(before, broker).orders;
      const list = open ? all.filter((o) => !FINAL.has(o.status)) : all;
      return list.reverse();
    },
    save: () => saveSimState(path, simStateAfter(before, broker)),
  };
}

const FINAL = new Set(["filled", "canceled", "expired", "rejected", "replaced", "done_for_day"]);

async function alpacaSession(io: CliIO, args: CliArgs): Promise<BrokerSession> {
  const env = io.env;
  const { createAlpacaBroker } = await import("../alpaca/index.js");
  const broker = createAlpacaBroker({
    // A plain copy: the options schema wants a record, and process.env is not a plain object.
    // The adapter reads the key pair, or APCA_API_OAUTH_TOKEN when APCA_API_KEY_ID is not set.
    env: { ...env },
    paper: !args.live,
    allowLive: args.live,
    ...(env.APCA_API_BASE_URL ? { baseUrl: env.APCA_API_BASE_URL } : {}),
    ...(env.APCA_API_DATA_URL ? { dataBaseUrl: env.APCA_API_DATA_URL } : {}),
    ...(env.APCA_API_STREAM_URL ? { streamUrl: env.APCA_API_STREAM_URL } : {}),
  });
  return {
    kind: "alpaca",
    broker,
    async orders(open) {
      const list: OrderSnapshot[] =
        open || broker.listOrders === undefined
          ? await broker.listOpenOrders()
          : await broker.listOrders({ status: "all", limit: 100 });
      return list.map(simOrderOf);
    },
    save: async () => {},
  };
}
