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
    type Checked = Omit<z.input<typeof AlpacaBrokerOptionsSchema>, "keyId" | "secret">;
    expectTypeOf<Checked>().toEqualTypeOf<Omit<AlpacaBrokerOptions, "keyId" | "secret">>();
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
      ...creds,
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
    expect(readAlpacaOptions({ env })).toMatchObject({ keyId: "AKFROMENV", secret: "secret-from-env" });
    expect(readAlpacaOptions({ env, keyId: "AKGIVEN" }).keyId).toBe("AKGIVEN");
    const missing = failure(() => readAlpacaOptions({ keyId: "AKGIVEN", env: {} }));
    expect(isOrdersafeError(missing) && missing.code).toBe("config");
    const blank = failure(() => readAlpacaOptions({ keyId: "AKGIVEN", secret: " ", env: {} }));
    expect(isOrdersafeError(blank) && blank.code).toBe("validation");
    const notObject = failure(() => readAlpacaOptions("options"));
    expect(isOrdersafeError(notObject) && notObject.code).toBe("validation");
  });
});
