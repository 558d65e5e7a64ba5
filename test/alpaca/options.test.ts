import { isOrdersafeError } from "ordersafe";
import {
  ALPACA_BROKER_DEFAULTS,
  ALPACA_DATA_URL,
  ALPACA_LIVE_STREAM_URL,
  ALPACA_LIVE_URL,
  ALPACA_PAPER_STREAM_URL,
  ALPACA_PAPER_URL,
  type AlpacaBrokerOptions,
  AlpacaBrokerOptionsSchema,
  type AlpacaStreamSettings,
} from "ordersafe/alpaca";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import { readAlpacaOptions } from "../../src/alpaca/alpaca-options.js";

const creds = { keyId: "AKTESTKEY", secret: "test-secret-value" };

function failure(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a failure");
}

describe("Alpaca broker options", () => {
  it("the interface and the schema name the same options (credentials are checked apart)", () => {
    type Credentials = "keyId" | "secret" | "oauthToken";
    type Checked = Omit<z.input<typeof AlpacaBrokerOptionsSchema>, Credentials>;
    expectTypeOf<Checked>().toEqualTypeOf<Omit<AlpacaBrokerOptions, Credentials>>();
    expectTypeOf<
      z.output<typeof AlpacaBrokerOptionsSchema>["stream"]
    >().toEqualTypeOf<AlpacaStreamSettings>();
  });

  it("every default comes from ALPACA_BROKER_DEFAULTS", () => {
    const parsed = AlpacaBrokerOptionsSchema.parse({});
    const { stream, ...flat } = ALPACA_BROKER_DEFAULTS;
    expect(parsed).toMatchObject(flat);
    expect(parsed.stream).toEqual(stream);
    // Each parse gets its own copy; the defaults stay frozen.
    expect(parsed.stream).not.toBe(stream);
    expect(Object.isFrozen(ALPACA_BROKER_DEFAULTS.stream)).toBe(true);
    expect(AlpacaBrokerOptionsSchema.parse({ stream: { pongWaitMs: 7 } }).stream).toEqual({
      ...stream,
      pongWaitMs: 7,
    });
  });

  it("resolves the paper endpoints and id by default, the live ones when asked twice", () => {
    const paper = readAlpacaOptions({ ...creds, env: {} });
    expect(paper).toMatchObject({
      id: "alpaca-paper",
      baseUrl: ALPACA_PAPER_URL,
      dataBaseUrl: ALPACA_DATA_URL,
      streamUrl: ALPACA_PAPER_STREAM_URL,
      credentials: { kind: "keys", ...creds },
    });
    const live = readAlpacaOptions({ ...creds, paper: false, allowLive: true, id: "mine" });
    expect(live).toMatchObject({ id: "mine", baseUrl: ALPACA_LIVE_URL, streamUrl: ALPACA_LIVE_STREAM_URL });
    for (const refused of [
      { ...creds, paper: false },
      { ...creds, baseUrl: `${ALPACA_LIVE_URL}/` },
      { ...creds, paper: true, allowLive: true, baseUrl: ALPACA_LIVE_URL },
    ]) {
      const e = failure(() => readAlpacaOptions(refused));
      expect(isOrdersafeError(e) && e.code).toBe("config");
    }
  });

  it("reads the credentials from the options, else from env; a missing one is a config error", () => {
    const env = { APCA_API_KEY_ID: "AKFROMENV", APCA_API_SECRET_KEY: "secret-from-env" };
    expect(readAlpacaOptions({ env }).credentials).toEqual({
      kind: "keys",
      keyId: "AKFROMENV",
      secret: "secret-from-env",
    });
    expect(readAlpacaOptions({ env, keyId: "AKGIVEN" }).credentials).toMatchObject({ keyId: "AKGIVEN" });
    const missing = failure(() => readAlpacaOptions({ keyId: "AKGIVEN", env: {} }));
    expect(isOrdersafeError(missing) && missing.code).toBe("config");
    const blank = failure(() => readAlpacaOptions({ keyId: "AKGIVEN", secret: " ", env: {} }));
    expect(isOrdersafeError(blank) && blank.code).toBe("validation");
    const notObject = failure(() => readAlpacaOptions("options"));
    expect(isOrdersafeError(notObject) && notObject.code).toBe("validation");
  });

  it("takes an OAuth token instead of the key pair, never both; from env only when no key id is set", () => {
    const token = "oauth-token-value-0123";
    expect(readAlpacaOptions({ oauthToken: token, env: {} }).credentials).toEqual({ kind: "oauth", token });
    const onlyToken = { APCA_API_OAUTH_TOKEN: token };
    expect(readAlpacaOptions({ env: onlyToken }).credentials).toEqual({ kind: "oauth", token });
    // A key id in the environment (or keys in the options) wins over an environment token.
    const both = { ...onlyToken, APCA_API_KEY_ID: "AKFROMENV", APCA_API_SECRET_KEY: "secret-from-env" };
    expect(readAlpacaOptions({ env: both }).credentials.kind).toBe("keys");
    expect(readAlpacaOptions({ ...creds, env: onlyToken }).credentials).toEqual({ kind: "keys", ...creds });
    // Both schemes passed, or none at all: a config error that names neither value.
    for (const bad of [
      { ...creds, oauthToken: token, env: {} },
      { keyId: "AKGIVEN", oauthToken: token, env: {} },
      { env: {} },
    ]) {
      const e = failure(() => readAlpacaOptions(bad));
      expect(isOrdersafeError(e) && e.code).toBe("config");
      expect(String(e)).not.toContain(token);
    }
    for (const bad of [
      { oauthToken: " ", env: {} },
      { oauthToken: 42, env: {} },
    ]) {
      const e = failure(() => readAlpacaOptions(bad));
      expect(isOrdersafeError(e) && e.code).toBe("validation");
    }
  });
});
