import { describe, expect, it } from "vitest";
import { EventLog } from "../../../src/testing/simulated-broker/event-log.js";
import { VirtualClock } from "../../../src/testing/virtual-clock.js";

describe("EventLog", () => {
  it("numbers and stamps entries in order, keeping the detail's key order", async () => {
    const clock = new VirtualClock({ start: 1000 });
    const log = new EventLog(clock);
    log.record("call", { method: "getAccount" });
    await clock.advance(5);
    log.record("fill", { orderId: "o1", qty: "2", price: "10" });
    expect(JSON.stringify(log.list())).toBe(
      '[{"seq":0,"at":1000,"type":"call","method":"getAccount"},' +
        '{"seq":1,"at":1005,"type":"fill","orderId":"o1","qty":"2","price":"10"}]',
    );
  });

  it("hands out copies", () => {
    const log = new EventLog(new VirtualClock());
    log.record("market", { open: false });
    const copy = log.list();
    log.record("market", { open: true });
    expect(copy).toHaveLength(1);
    expect(log.list()).toHaveLength(2);
  });
});
