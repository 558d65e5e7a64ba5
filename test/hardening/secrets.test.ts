// Credentials never appear in an error, whatever the options or the server's replies hold;
// a validation error carries the offending value only, cut short, never a whole object; the
// adapter runs on its real options (only the text of an error is redacted).

import { isOrdersafeError, isValidationError, ValidationError } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";
import { startFakeAlpacaServer } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { KEY, SECRET, startRig, until } from "../alpaca/fake-alpaca.js";

/** Everything reachable from a value, as text: message, stack, details, causes. */
function dump(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null) return String(value);
  if (seen.has(value)) return "";
  seen.add(value);
  const parts: string[] = [];
  if (value instanceof Error)
    parts.push(value.name, value.message, value.stack ?? "", dump(value.cause, seen));
  for (const k of Reflect.ownKeys(value)) parts.push(String(k), dump(Reflect.get(value, k), seen));
  return parts.join(" ");
}

function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a failure");
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a failure");
}

function expectNoCredential(e: unknown): void {
  expect(isOrdersafeError(e)).toBe(true);
  const text = `${dump(e)} ${JSON.stringify(e)}`;
  expect(text).not.toContain(KEY);
  expect(text).not.toContain(SECRET);
}

describe("secrets in option errors", () => {
  it("a misspelt option beside the environment shows the key's name, not the environment", () => {
    const env = { ...process.env, APCA_API_KEY_ID: KEY, APCA_API_SECRET_KEY: SECRET, OTHER: "x".repeat(300) };
    const e = caught(() => createAlpacaBroker({ env, paperr: true } as never));
    expect(isValidationError(e)).toBe(true);
    expectNoCredential(e);
    if (!isValidationError(e)) return;
    expect(e.issues[0]?.value).toEqual(["paperr"]);
    expect(e.message).toContain("paperr");
    expect(dump(e.details)).not.toContain("OTHER");
  });

  it("every issue value is the offending value only, cut to 80 characters", () => {
    const e = caught(() =>
      createAlpacaBroker({ keyId: KEY, secret: SECRET, baseUrl: `not a url ${"a".repeat(300)}` }),
    );
    expect(isValidationError(e)).toBe(true);
    if (!isValidationError(e)) return;
    const value = e.issues[0]?.value;
    expect(typeof value).toBe("string");
    expect(String(value).length).toBeLessThanOrEqual(81);
    const wrongLogger = caught(() =>
      createAlpacaBroker({ keyId: KEY, secret: SECRET, logger: { token: SECRET, other: KEY } as never }),
    );
    expectNoCredential(wrongLogger);
  });

  it("a ValidationError built anywhere keeps no whole object", () => {
    const options = { env: { APCA_API_SECRET_KEY: SECRET }, nested: { deep: KEY } };
    const e = new ValidationError("x", { issues: [{ path: "options", message: "bad", value: options }] });
    expect(e.issues[0]?.value).toBe("{ env, nested }");
    expectNoCredential(e);
    const long = new ValidationError("x", {
      issues: [{ path: "s", message: "bad", value: "y".repeat(500) }],
    });
    expect(String(long.issues[0]?.value)).toHaveLength(81);
    expect(
      new ValidationError("x", { issues: [{ path: "n", message: "bad", value: -1 }] }).issues[0]?.value,
    ).toBe(-1);
  });
});

describe("the adapter runs on its real options", () => {
  it("with one-character credentials, REST and the stream reach the server", async () => {
    const server = await startFakeAlpacaServer({
      keyId: "w",
      secret: "1",
      cash: 1_000,
      prices: { SPY: 500 },
    });
    try {
      const broker = createAlpacaBroker({
        keyId: "w",
        secret: "1",
        baseUrl: server.baseUrl,
        dataBaseUrl: server.dataBaseUrl,
        streamUrl: server.streamUrl,
        stream: { pingIntervalMs: 0 },
      });
      const account = await broker.getAccount();
      expect(account.cash.toNumber()).toBe(1_000);
      const statuses: string[] = [];
      const sub = broker.subscribeOrderUpdates({ onUpdate() {}, onStatus: (s) => statuses.push(s) });
      await until(() => statuses.includes("connected"));
      sub.close();
    } finally {
      await server.close();
    }
  });
});

describe("secrets a server echoes back", () => {
  it("in the error code, the request id and the message of a refusal", async () => {
    const rig = await startRig();
    try {
      rig.server.script({
        kind: "reply",
        path: "/v2/account",
        status: 422,
        body: { code: KEY, message: `bad ${SECRET}` },
        headers: { "X-Request-ID": `${SECRET}-req` },
      });
      const e = await rejection(rig.broker.getAccount());
      expectNoCredential(e);
    } finally {
      await rig.close();
    }
  });

  it("in a body field that fails its schema", async () => {
    const rig = await startRig();
    try {
      const account: Record<string, unknown> = await fetch(`${rig.server.baseUrl}/v2/account`, {
        headers: { "APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET },
      }).then((r) => r.json() as Promise<Record<string, unknown>>);
      rig.server.script({
        kind: "reply",
        path: "/v2/account",
        status: 200,
        body: { ...account, cash: SECRET, currency: KEY },
      });
      const e = await rejection(rig.broker.getAccount());
      expect(isOrdersafeError(e) && e.code).toBe("protocol");
      expectNoCredential(e);
    } finally {
      await rig.close();
    }
  });
});
