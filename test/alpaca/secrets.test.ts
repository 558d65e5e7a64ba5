import { Decimal, isOrdersafeError } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";
import { describe, expect, it } from "vitest";
import { captureLogger, KEY, type LogLine, SECRET, startRig, until } from "./fake-alpaca.js";

/** Everything reachable from a value, as text: message, stack, details, causes. */
function dump(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null) return String(value);
  if (seen.has(value)) return "";
  seen.add(value);
  const parts: string[] = [];
  if (value instanceof Error)
    parts.push(value.name, value.message, value.stack ?? "", dump(value.cause, seen));
  for (const k of Reflect.ownKeys(value)) {
    if (k === "response") continue; // an SDK error's Response never reaches an ordersafe error (checked below)
    parts.push(String(k), dump((value as Record<PropertyKey, unknown>)[k], seen));
  }
  return parts.join(" ");
}

function expectClean(text: string): void {
  expect(text).not.toContain(KEY);
  expect(text).not.toContain(SECRET);
}

async function caught(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e;
  }
  throw new Error("expected a failure");
}

describe("credentials never appear in errors or logs", () => {
  it("across every kind of failure, with debug logging on", async () => {
    const lines: LogLine[] = [];
    const rig = await startRig(
      { cash: 100, latency: { fillMs: 5 } },
      { logger: captureLogger(lines), timeoutMs: 100 },
    );
    const errors: unknown[] = [];
    const sub = rig.broker.subscribeOrderUpdates({ onUpdate() {} });
    const req = (id: string) => ({
      clientOrderId: id,
      symbol: "SPY",
      side: "buy" as const,
      type: "market" as const,
      timeInForce: "day" as const,
      qty: new Decimal(1),
    });
    errors.push(await caught(rig.broker.submitOrder(req("x1")))); // 403 buying power
    // A server that echoes the credentials in its messages.
    // Each fault names its request: a late request of an earlier step (the timed-out submit
    // reaching the server after the client gave up) must not take it.
    rig.server.script({
      kind: "reply",
      path: "/v2/account",
      status: 422,
      body: { code: 40010001, message: `bad key ${KEY} / ${SECRET}` },
    });
    errors.push(await caught(rig.broker.getAccount()));
    rig.server.script({ kind: "reply", path: "/v2/account", status: 500, body: `upstream said ${SECRET}` });
    errors.push(await caught(rig.broker.getAccount()));
    rig.server.script({ kind: "drop", method: "POST", path: "/v2/orders" });
    errors.push(await caught(rig.broker.submitOrder(req("x2"))));
    rig.server.script({ kind: "slow", path: "/v2/clock", ms: 300 });
    errors.push(await caught(rig.broker.getClock()));
    rig.server.script({ kind: "malformed", path: "/v2/positions" });
    errors.push(await caught(rig.broker.getPositions()));
    rig.server.script({ kind: "http_429", path: "/v2/positions" });
    errors.push(await caught(rig.broker.getPositions()));
    sub.close();
    await rig.close();
    errors.push(await caught(rig.broker.getAccount())); // refused connection

    // Wrong keys on REST and on the stream (the stream logs its auth failure).
    const rig2 = await startRig();
    const wrongLines: LogLine[] = [];
    const wrong = createAlpacaBroker({
      keyId: KEY,
      secret: `${SECRET}-x`,
      baseUrl: rig2.server.baseUrl,
      streamUrl: rig2.server.streamUrl,
      logger: captureLogger(wrongLines),
      stream: { pingIntervalMs: 0 },
    });
    errors.push(await caught(wrong.getAccount()));
    const statuses: string[] = [];
    const s2 = wrong.subscribeOrderUpdates({ onUpdate() {}, onStatus: (s) => statuses.push(s) });
    await until(() => statuses.includes("disconnected"));
    s2.close();
    await rig2.close();

    expect(errors).toHaveLength(9);
    for (const e of errors) {
      expect(isOrdersafeError(e)).toBe(true);
      expectClean(dump(e));
      expectClean(JSON.stringify(e));
    }
    expect(lines.length).toBeGreaterThan(5);
    for (const l of [...lines, ...wrongLines]) expectClean(dump(l.args));
    expect(wrongLines.some((l) => l.level === "warn")).toBe(true);
  });

  it("in option errors: a credential of the wrong type, a credential under a wrong name, missing credentials", async () => {
    const bad = [
      () => createAlpacaBroker({ keyId: KEY, secret: 12345 as unknown as string }),
      () => createAlpacaBroker({ keyId: KEY, secret: "   " }),
      () => createAlpacaBroker({ keyId: KEY, secret: SECRET, secretKey: SECRET } as never),
      () => createAlpacaBroker({ keyId: KEY, secret: SECRET, baseUrl: `not a url ${SECRET}` }),
      () => createAlpacaBroker({ secret: SECRET, env: {} }),
      () => createAlpacaBroker({ keyId: KEY, secret: SECRET, paper: false }),
      // An OAuth token together with a key, and a token of the wrong shape.
      () => createAlpacaBroker({ keyId: KEY, oauthToken: SECRET }),
      () => createAlpacaBroker({ oauthToken: ` ${SECRET}`.slice(0, 1) }),
      () => createAlpacaBroker({ oauthToken: SECRET, baseUrl: `not a url ${SECRET}` }),
    ];
    for (const make of bad) {
      const e = await caught(make);
      expect(isOrdersafeError(e)).toBe(true);
      expectClean(dump(e));
    }
  });
});
