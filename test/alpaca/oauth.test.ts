import { Decimal, isOrdersafeError, type OrderUpdate, type StreamStatus } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";
import { type FakeAlpacaServer, startFakeAlpacaServer } from "ordersafe/testing";
import { afterEach, describe, expect, it } from "vitest";
import { createRedactor } from "../../src/alpaca/redactor.js";
import { captureLogger, KEY, type LogLine, SECRET, until } from "./fake-alpaca.js";

const TOKEN = "oauth-Access-Token-0123456789abcdefXYZ";

let server: FakeAlpacaServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(): Promise<FakeAlpacaServer> {
  server = await startFakeAlpacaServer({
    keyId: KEY,
    secret: SECRET,
    oauthToken: TOKEN,
    cash: 100_000,
    prices: { SPY: 500 },
    latency: { fillMs: 20 },
  });
  return server;
}

function brokerOn(s: FakeAlpacaServer, oauthToken: string, lines: LogLine[] = []) {
  return createAlpacaBroker({
    oauthToken,
    env: {},
    baseUrl: s.baseUrl,
    dataBaseUrl: s.dataBaseUrl,
    streamUrl: s.streamUrl,
    logger: captureLogger(lines),
    timeoutMs: 2_000,
    stream: { initialReconnectMs: 20, maxReconnectMs: 100, reconnectJitter: 0, pingIntervalMs: 0 },
  });
}

describe("Alpaca with an OAuth token", () => {
  it("REST sends the bearer token (no key headers) and the stream authenticates with oauth_token", async () => {
    const s = await start();
    const broker = brokerOn(s, TOKEN);
    const updates: OrderUpdate[] = [];
    const statuses: StreamStatus[] = [];
    const sub = broker.subscribeOrderUpdates({
      onUpdate: (u) => updates.push(u),
      onStatus: (st) => statuses.push(st),
    });
    await until(() => statuses.includes("connected"));
    expect(s.streamClients()).toBe(1);

    const account = await broker.getAccount();
    expect(account.cash.toString()).toBe("100000");
    const prices = await broker.getLatestPrices(["SPY"]);
    expect(prices.get("SPY")?.toString()).toBe("500");
    const order = await broker.submitOrder({
      clientOrderId: "oauth-1",
      symbol: "SPY",
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(2),
    });
    await until(() => updates.some((u) => u.event === "fill" && u.order.id === order.id));
    sub.close();

    const requests = s.requests();
    expect(requests.length).toBeGreaterThanOrEqual(3);
    // Every request was let in by the bearer token, none by the key headers.
    expect(requests.map((r) => r.auth)).toEqual(requests.map(() => "oauth"));
  });

  it("a wrong token: REST is refused `unauthorized`, the stream is not authorized, and the token never shows", async () => {
    const s = await start();
    const wrong = `${TOKEN}-revoked`;
    const lines: LogLine[] = [];
    const broker = brokerOn(s, wrong, lines);
    const statuses: StreamStatus[] = [];
    const sub = broker.subscribeOrderUpdates({ onUpdate() {}, onStatus: (st) => statuses.push(st) });
    let error: unknown;
    try {
      await broker.getAccount();
    } catch (e) {
      error = e;
    }
    expect(isOrdersafeError(error) && error.code).toBe("unauthorized");
    await until(() => statuses.includes("disconnected"));
    expect(s.streamClients()).toBe(0);
    sub.close();
    expect(s.requests().map((r) => r.auth)).toEqual(["none"]);

    // A server that echoes the token it was sent.
    const right = brokerOn(s, TOKEN, lines);
    s.script({
      kind: "reply",
      path: "/v2/account",
      status: 422,
      body: { code: 40010001, message: `bad ${TOKEN}` },
    });
    let echoed: unknown;
    try {
      await right.getAccount();
    } catch (e) {
      echoed = e;
    }
    expect(isOrdersafeError(echoed)).toBe(true);
    const text = `${String(echoed)} ${JSON.stringify(echoed)} ${JSON.stringify(
      lines.map((l) => l.args),
      (_k, v) => (v instanceof Error ? { m: v.message, c: v.cause } : v),
    )}`;
    expect(text).toContain("[redacted]");
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(wrong);
  });

  it("the redactor masks credential fields whatever they hold", () => {
    const r = createRedactor([TOKEN]);
    expect(
      r.value({
        headers: { Authorization: "Bearer some-other-token", "APCA-API-SECRET-KEY": "rotated" },
        frame: { action: "authenticate", data: { oauth_token: "old-token" } },
        note: `sent ${TOKEN}`,
      }),
    ).toEqual({
      headers: { Authorization: "[redacted]", "APCA-API-SECRET-KEY": "[redacted]" },
      frame: { action: "authenticate", data: { oauth_token: "[redacted]" } },
      note: "sent [redacted]",
    });
  });
});
