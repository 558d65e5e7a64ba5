// Under exactOptionalPropertyTypes a bot passes `undefined` for an option it has no value for
// (`keyId: process.env.APCA_API_KEY_ID`): the types accept it (checked by the consumer project
// compiled with exactOptionalPropertyTypes in scripts/check-consumers.mjs), and here, at run
// time, undefined behaves exactly as the option left out.
import { reportToJSON, SmartRebalancer } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

describe("options given as undefined", () => {
  it("SmartRebalancer and rebalance(): undefined is the default", async () => {
    const run = async (explicit: boolean) => {
      const clock = new VirtualClock();
      const broker = createSimulatedBroker({
        clock,
        seed: 3,
        cash: 10_000,
        positions: { SPY: 4 },
        prices: { SPY: 500, BIL: 91.5 },
        latency: { restMs: 50, fillMs: 200 },
      });
      const rebalancer = new SmartRebalancer(
        explicit
          ? {
              broker,
              clock,
              seed: undefined,
              concurrency: undefined,
              tracker: undefined,
              maxRetries: undefined,
            }
          : { broker, clock },
      );
      const targets = { weights: { SPY: 0.6, BIL: 0.4 } };
      const options = explicit ? { runId: undefined, dryRun: undefined, signal: undefined } : {};
      const report = await clock.run(rebalancer.rebalance(targets, options));
      // Without a seed, run ids (and the client order ids made from them) are random: leave
      // them out of the comparison.
      return JSON.stringify(reportToJSON(report), (key, value) =>
        key === "runId" || key === "clientOrderId" ? undefined : value,
      );
    };
    const [explicit, omitted] = [await run(true), await run(false)];
    expect(JSON.parse(explicit).orders.length).toBe(2);
    expect(explicit).toBe(omitted);
  });

  it("createAlpacaBroker: an undefined credential is read from the environment, or named as missing", () => {
    const env = { APCA_API_KEY_ID: "key-from-env", APCA_API_SECRET_KEY: "secret-from-env" };
    const broker = createAlpacaBroker({ keyId: undefined, secret: undefined, baseUrl: undefined, env });
    expect(broker.id).toBe("alpaca-paper");
    expect(() => createAlpacaBroker({ keyId: undefined, secret: "s", env: {} })).toThrow(/APCA_API_KEY_ID/);
  });
});
