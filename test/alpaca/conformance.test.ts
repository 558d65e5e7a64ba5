import { createAlpacaBroker } from "ordersafe/alpaca";
import { runBrokerConformance, startFakeAlpacaServer } from "ordersafe/testing";
import { describe, it } from "vitest";
import { KEY, SECRET } from "./fake-alpaca.js";

// The BrokerPort conformance suite on createAlpacaBroker: the real SDK over real HTTP and
// WebSocket to the fake Alpaca server on 127.0.0.1 (real time, small latencies).
await runBrokerConformance(
  "alpaca adapter + fake Alpaca server",
  async () => {
    const server = await startFakeAlpacaServer({
      keyId: KEY,
      secret: SECRET,
      cash: 100_000,
      prices: { SPY: 500 },
      latency: { restMs: 2, fillMs: 15, streamMs: 1 },
    });
    const broker = createAlpacaBroker({
      keyId: KEY,
      secret: SECRET,
      baseUrl: server.baseUrl,
      dataBaseUrl: server.dataBaseUrl,
      streamUrl: server.streamUrl,
      stream: { initialReconnectMs: 20, maxReconnectMs: 100, reconnectJitter: 0, pingIntervalMs: 0 },
    });
    return {
      broker,
      driver: {
        symbol: "SPY",
        wait: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
        pollMs: 10,
        timeoutMs: 5_000,
        dispose: () => server.close(),
      },
    };
  },
  { describe, it, testTimeoutMs: 30_000 },
);
