import { isOrdersafeError, type OrderIntent, type OrderIntentSchema, parseOrderIntent } from "ordersafe";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";

describe("parseOrderIntent", () => {
  it("returns the schema's output, which is an OrderIntent", () => {
    expectTypeOf<z.output<typeof OrderIntentSchema>>().toEqualTypeOf<OrderIntent>();
    const intent = parseOrderIntent({
      symbol: "TECL",
      side: "buy",
      qty: "10",
      type: "market",
      timeInForce: "day",
    });
    expect(intent.qty?.toString()).toBe("10");
  });

  it("refuses a notional limit order", () => {
    const input = {
      symbol: "TECL",
      side: "buy",
      notional: 100,
      type: "limit",
      limitPrice: 50,
      timeInForce: "day",
    };
    expect(() => parseOrderIntent(input)).toThrow(expect.objectContaining({ code: "validation" }));
    try {
      parseOrderIntent(input);
    } catch (e) {
      expect(isOrdersafeError(e)).toBe(true);
    }
  });
});
