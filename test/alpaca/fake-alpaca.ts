import type { BrokerPort, Logger } from "ordersafe";
import { type AlpacaBrokerOptions, createAlpacaBroker } from "ordersafe/alpaca";
import {
  type FakeAlpacaServer,
  type FakeAlpacaServerOptions,
  startFakeAlpacaServer,
} from "ordersafe/testing";

export const KEY = "PKTESTKEY0123456789AB";
export const SECRET = "s3cr3t-Secret-Value-0123456789abcdefghij";

/** A captured log line: level and every argument. */
export interface LogLine {
  level: string;
  args: unknown[];
}

export function captureLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (...args: unknown[]) =>
      lines.push({ level, args });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export interface Rig {
  server: FakeAlpacaServer;
  broker: BrokerPort;
  close(): Promise<void>;
}

/** A fake Alpaca server and an adapter pointed at it, with fast stream reconnects. */
export async function startRig(
  serverOptions: Partial<FakeAlpacaServerOptions> = {},
  brokerOptions: Partial<AlpacaBrokerOptions> = {},
): Promise<Rig> {
  const server = await startFakeAlpacaServer({
    keyId: KEY,
    secret: SECRET,
    cash: 100_000,
    prices: { SPY: 500, QQQ: 400, TECL: "52.6", FNGU: "33.05", BIL: "91.5" },
    ...serverOptions,
  });
  const broker = createAlpacaBroker({
    keyId: KEY,
    secret: SECRET,
    baseUrl: server.baseUrl,
    dataBaseUrl: server.dataBaseUrl,
    streamUrl: server.streamUrl,
    stream: { initialReconnectMs: 20, maxReconnectMs: 100, reconnectJitter: 0, pingIntervalMs: 0 },
    ...brokerOptions,
  });
  return { server, broker, close: () => server.close() };
}

/** Polls a condition on real time (sockets are real); fails after timeoutMs. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
