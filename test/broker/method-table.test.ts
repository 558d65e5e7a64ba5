import { BROKER_METHODS, type BrokerMethod, Decimal, isBrokerError } from "ordersafe";
import { createSimulatedBroker } from "ordersafe/testing";
import { describe, expect, expectTypeOf, it } from "vitest";
import { wrapBrokerPort } from "../../src/broker/checked-broker.js";
import { BROKER_METHOD_TABLE, zBrokerPort } from "../../src/broker/schemas.js";

describe("the method table", () => {
  it("lists every call of the contract once, in the stable order", () => {
    expect(BROKER_METHODS).toEqual([
      "getAccount",
      "getPositions",
      "getPosition",
      "getAssets",
      "getLatestPrices",
      "getClock",
      "submitOrder",
      "getOrder",
      "getOrderByClientOrderId",
      "listOpenOrders",
      "cancelOrder",
      "closePosition",
      "listOrders",
      "getLatestQuotes",
      "replaceOrder",
    ]);
    expectTypeOf<BrokerMethod>().toEqualTypeOf<(typeof BROKER_METHODS)[number]>();
  });

  it("marks the calls that may change state at the broker as writes", () => {
    const writes = BROKER_METHODS.filter((m) => BROKER_METHOD_TABLE[m].kind === "write");
    expect(writes).toEqual(["submitOrder", "cancelOrder", "closePosition", "replaceOrder"]);
  });

  it("checks each reply: a lookup's null passes, a malformed value is a protocol error", () => {
    for (const m of ["getPosition", "getOrder", "getOrderByClientOrderId"] as const) {
      expect(BROKER_METHOD_TABLE[m].reply?.(null)).toBeNull();
      expect(BROKER_METHOD_TABLE[m].reply?.(undefined)).toBeNull();
    }
    for (const m of BROKER_METHODS) {
      const parse = BROKER_METHOD_TABLE[m].reply;
      if (parse === null) continue;
      let error: unknown;
      try {
        parse({ malformed: true });
      } catch (e) {
        error = e;
      }
      expect(isBrokerError(error, "protocol"), m).toBe(true);
    }
    expect(BROKER_METHOD_TABLE.getLatestPrices.reply?.(new Map([["X", "2"]])).get("X")).toEqual(
      new Decimal(2),
    );
  });

  it("marks the optional members with the capability that announces them", () => {
    const optional = BROKER_METHODS.filter((m) => BROKER_METHOD_TABLE[m].capability !== undefined);
    expect(optional.map((m) => [m, BROKER_METHOD_TABLE[m].capability])).toEqual([
      ["listOrders", "orderHistory"],
      ["getLatestQuotes", "quotes"],
      ["replaceOrder", "replace"],
    ]);
  });

  it("checks a listOrders query before the call: a bad one is a ValidationError", () => {
    const check = BROKER_METHOD_TABLE.listOrders.args;
    const signal = new AbortController().signal;
    expect(check?.([{ status: "all", limit: 5 }, { signal }])).toEqual([
      { status: "all", limit: 5 },
      { signal },
    ]);
    expect(check?.([{}])).toEqual([{}]);
    expect(() => check?.([{ limit: 0 }])).toThrow(expect.objectContaining({ code: "validation" }));
  });

  it("zBrokerPort asks for every required member", () => {
    const broker = createSimulatedBroker({ cash: 1 });
    expect(zBrokerPort.parse(broker)).toBe(broker);
    const required = BROKER_METHODS.filter((m) => BROKER_METHOD_TABLE[m].capability === undefined);
    for (const missing of [...required, "subscribeOrderUpdates"]) {
      const partial = {
        ...Object.fromEntries([...BROKER_METHODS, "subscribeOrderUpdates"].map((m) => [m, () => {}])),
      };
      delete partial[missing];
      const result = zBrokerPort.safeParse(partial);
      expect(result.success, missing).toBe(false);
    }
  });
});

describe("wrapBrokerPort", () => {
  it("runs the wrapper around every call with its method name, and forwards the result", async () => {
    const broker = createSimulatedBroker({ cash: 1000, prices: { X: 10 } });
    const seen: string[] = [];
    const wrapped = wrapBrokerPort(broker, {
      call: (method, call) => {
        seen.push(method);
        return call();
      },
    });
    expect(wrapped.id).toBe(broker.id);
    expect((await wrapped.getAccount()).cash.toString()).toBe("1000");
    expect((await wrapped.getLatestPrices(["X"])).get("X")?.toString()).toBe("10");
    expect(await wrapped.getPosition("X")).toBeNull();
    expect(seen).toEqual(["getAccount", "getLatestPrices", "getPosition"]);
    const sub = wrapped.subscribeOrderUpdates({ onUpdate: () => {} });
    sub.close();
    expect(seen).toHaveLength(3);
  });
});
