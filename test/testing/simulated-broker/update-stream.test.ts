import { Decimal, type OrderUpdate, type StreamStatus } from "ordersafe";
import { describe, expect, it } from "vitest";
import { EventLog } from "../../../src/testing/simulated-broker/event-log.js";
import { FaultPlan } from "../../../src/testing/simulated-broker/fault-plan.js";
import { UpdateStream } from "../../../src/testing/simulated-broker/update-stream.js";
import { VirtualClock } from "../../../src/testing/virtual-clock.js";

function update(id: string, event: "new" | "fill" = "new"): OrderUpdate {
  return {
    event,
    at: new Date(0),
    order: {
      id,
      clientOrderId: `c-${id}`,
      symbol: "AAA",
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(1),
      filledQty: new Decimal(0),
      status: "new",
      updatedAt: new Date(0),
    },
  };
}

function setup(streamMs = 10) {
  const clock = new VirtualClock({ start: 0 });
  const log = new EventLog(clock);
  const faults = new FaultPlan(1, undefined, log);
  const stream = new UpdateStream(clock, log, faults, streamMs);
  const got: string[] = [];
  const statuses: StreamStatus[] = [];
  const sub = stream.subscribe({
    onUpdate: (u) => got.push(u.order.id),
    onStatus: (s) => statuses.push(s),
  });
  return { clock, log, faults, stream, got, statuses, sub };
}

describe("UpdateStream", () => {
  it("connects on the clock, never inside subscribe(), and delivers streamMs after publish", async () => {
    const { clock, stream, got, statuses } = setup(10);
    expect(statuses).toEqual([]);
    await clock.advance(0);
    expect(statuses).toEqual(["connecting"]);
    await clock.advance(10);
    expect(statuses).toEqual(["connecting", "connected"]);
    stream.publish(update("o1"));
    await clock.advance(9);
    expect(got).toEqual([]);
    await clock.advance(1);
    expect(got).toEqual(["o1"]);
  });

  it("a subscriber's copy is its own", async () => {
    const { clock, stream } = setup(0);
    const seen: OrderUpdate[] = [];
    stream.subscribe({ onUpdate: (u) => seen.push(u) });
    await clock.advance(0);
    const u = update("o1");
    stream.publish(u);
    await clock.advance(0);
    expect(seen[0]).toEqual(u);
    expect(seen[0]).not.toBe(u);
    expect(seen[0]?.order).not.toBe(u.order);
  });

  it("drop loses the update; duplicate delivers it twice; reorder swaps it with the next", async () => {
    const { clock, faults, stream, got, log } = setup(0);
    await clock.advance(0);
    faults.script({ kind: "stream_drop" });
    stream.publish(update("dropped"));
    faults.script({ kind: "stream_duplicate" });
    stream.publish(update("twice"));
    faults.script({ kind: "stream_reorder" });
    stream.publish(update("first"));
    stream.publish(update("second"));
    await clock.advance(0);
    expect(got).toEqual(["twice", "twice", "second", "first"]);
    expect(log.list().filter((e) => e.type === "lost")).toMatchObject([{ orderId: "dropped", why: "drop" }]);
  });

  it("a held-back update goes out a second later when nothing follows", async () => {
    const { clock, faults, stream, got } = setup(0);
    await clock.advance(0);
    faults.script({ kind: "stream_reorder" });
    stream.publish(update("alone"));
    await clock.advance(999);
    expect(got).toEqual([]);
    await clock.advance(1);
    expect(got).toEqual(["alone"]);
  });

  it("disconnect: disconnected, reconnecting, then connected after downMs; updates meanwhile are lost", async () => {
    const { clock, stream, got, statuses } = setup(0);
    await clock.advance(0);
    stream.disconnect(100);
    stream.publish(update("while-down"));
    await clock.advance(99);
    expect(statuses).toEqual(["connecting", "connected", "disconnected", "reconnecting"]);
    await clock.advance(1);
    expect(statuses.at(-1)).toBe("connected");
    stream.publish(update("after"));
    await clock.advance(0);
    expect(got).toEqual(["after"]);
  });

  it("silence: still connected, nothing delivered for ms", async () => {
    const { clock, faults, stream, got, statuses } = setup(0);
    await clock.advance(0);
    faults.script({ kind: "stream_silence", ms: 50 });
    stream.publish(update("silenced"));
    stream.publish(update("also"));
    await clock.advance(49);
    stream.publish(update("at-49"));
    await clock.advance(1);
    expect(got).toEqual([]);
    stream.publish(update("at-50"));
    await clock.advance(0);
    expect(got).toEqual(["at-50"]);
    expect(statuses).toEqual(["connecting", "connected"]);
  });

  it("a throwing listener neither stops delivery to others nor the stream; a closed one gets nothing", async () => {
    const { clock, stream, got, sub } = setup(0);
    stream.subscribe({
      onUpdate: () => {
        throw new Error("listener bug");
      },
      onStatus: () => {
        throw new Error("listener bug");
      },
    });
    await clock.advance(0);
    stream.publish(update("o1"));
    await clock.advance(0);
    expect(got).toEqual(["o1"]);
    sub.close();
    stream.publish(update("o2"));
    await clock.advance(0);
    expect(got).toEqual(["o1"]);
  });
});
