import { type BrokerPort, checkBroker } from "ordersafe";
import { createSimulatedBroker } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { accountStateOf, innermostPort, markWrapper } from "../../src/account/account-registry.js";

describe("account registry", () => {
  it("gives every wrapper of one port the same account state, and other ports their own", () => {
    const a = createSimulatedBroker();
    const b = createSimulatedBroker();
    const wrap = (port: BrokerPort): BrokerPort => {
      const w = Object.create(port) as BrokerPort;
      markWrapper(w, port);
      return w;
    };
    const wrapped = wrap(a);
    const twice = wrap(wrapped);
    expect(innermostPort(twice)).toBe(a);
    expect(accountStateOf(twice)).toBe(accountStateOf(a));
    expect(accountStateOf(wrapped).record).toBe(accountStateOf(a).record);
    expect(accountStateOf(b)).not.toBe(accountStateOf(a));
  });

  it("treats an unmarked wrapper as a port of its own", () => {
    const a = createSimulatedBroker();
    const unmarked = Object.create(a) as BrokerPort;
    expect(innermostPort(unmarked)).toBe(unmarked);
    // checkBroker marks the port it wraps (WRAPPED_PORT).
    expect(innermostPort(checkBroker(a))).toBe(a);
  });
});
