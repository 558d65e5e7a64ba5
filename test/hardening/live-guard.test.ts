// Every spelling of Alpaca's live host is live: a paper configuration pointed at it is
// refused, and live trading through it needs the explicit opt-in (paper: false, allowLive).

import { isOrdersafeError } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";
import { describe, expect, it } from "vitest";

const creds = { keyId: "AKTESTKEY", secret: "test-secret-value" };

/**
 * Spellings of https://api.alpaca.markets that reach the live host, by kind. A fetch
 * resolves each to the live host (WHATWG URL parsing, IDNA mapping, DNS's root dot).
 */
const LIVE_FORMS: Record<string, readonly string[]> = {
  "a trailing dot": [
    "https://api.alpaca.markets.",
    "https://api.alpaca.markets.:443/v2",
    "https://api.alpaca.markets..",
  ],
  "%2E encodings": [
    "https://api%2Ealpaca.markets%2E",
    "https://api%2ealpaca%2emarkets",
    "https://api.alpaca.markets%2E",
    "https://%61pi.alpaca.markets.",
  ],
  "Unicode full stops (U+3002, U+FF0E, U+FF61)": [
    "https://api.alpaca.markets\u3002",
    "https://api\u3002alpaca\uFF0Emarkets\uFF61",
    "https://api\uFF0Ealpaca.markets",
    "https://api.alpaca\uFF61markets",
  ],
  "upper case and fullwidth letters": [
    "https://API.ALPACA.MARKETS.",
    "https://API.Alpaca.markets",
    "https://\uFF41\uFF50\uFF49.alpaca.markets.",
  ],
  "userinfo naming the paper host": [
    "https://paper-api.alpaca.markets@api.alpaca.markets.",
    "https://paper-api.alpaca.markets@api.alpaca.markets",
  ],
};

function configError(f: () => unknown): string | false {
  try {
    f();
  } catch (e) {
    return isOrdersafeError(e) ? e.code : false;
  }
  return false;
}

describe("live guard", () => {
  for (const [name, forms] of Object.entries(LIVE_FORMS)) {
    it(`${name}: refused without the live opt-in, accepted with it`, () => {
      for (const baseUrl of forms) {
        expect([baseUrl, configError(() => createAlpacaBroker({ ...creds, baseUrl }))]).toEqual([
          baseUrl,
          "config",
        ]);
        expect([
          baseUrl,
          configError(() => createAlpacaBroker({ ...creds, baseUrl, allowLive: true })),
        ]).toEqual([baseUrl, "config"]);
        const live = createAlpacaBroker({ ...creds, baseUrl, paper: false, allowLive: true });
        expect(live.id).toBe("alpaca-live");
      }
    });
  }

  it("the paper host and a local server stay paper", () => {
    for (const baseUrl of [
      "https://paper-api.alpaca.markets",
      "https://PAPER-API.alpaca.markets.",
      "http://127.0.0.1:8080",
    ]) {
      expect(createAlpacaBroker({ ...creds, baseUrl }).id).toBe("alpaca-paper");
    }
  });
});
