import { inProcessCoordination, isOrdersafeError } from "ordersafe";
import { VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { coordinationContract } from "./contract.js";

let clock = new VirtualClock();
let n = 0;

coordinationContract("in-process", {
  async make(options = {}) {
    clock = new VirtualClock();
    n++;
    return inProcessCoordination({ account: `PA-${n}`, clock, ...options });
  },
  advance: (ms) => clock.advance(ms),
  unit: 100,
  runs: 100,
});

describe("inProcessCoordination options", () => {
  it("refuses unknown or malformed options", () => {
    for (const bad of [
      {},
      { account: "" },
      { account: "A", extra: 1 },
      { account: "A", requestsPerMinute: 0 },
    ]) {
      try {
        // @ts-expect-error: bad on purpose
        inProcessCoordination(bad);
        expect.unreachable();
      } catch (e) {
        expect(isOrdersafeError(e) && e.code).toBe("validation");
      }
    }
  });
});
