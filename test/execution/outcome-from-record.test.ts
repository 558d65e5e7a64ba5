import { Decimal, type OrderOutcome, type OrderSnapshot } from "ordersafe";
import { describe, expect, it } from "vitest";
import { ExecutionRecord } from "../../src/account/execution-record.js";
import { outcomeFromRecord } from "../../src/execution/outcome-from-record.js";

const canceled: OrderOutcome = {
  symbol: "AAA",
  side: "sell",
  clientOrderId: "c1",
  orderId: "o1",
  requestedQty: new Decimal(10),
  requestedNotional: undefined,
  filledQty: new Decimal(0),
  avgPrice: undefined,
  filledNotional: new Decimal(0),
  state: "canceled",
  attempts: 1,
  adopted: false,
  recovered: false,
  errorCode: undefined,
  errorMessage: undefined,
  adjustments: [],
  submittedAt: 0,
  finalAt: 10,
};

const snapshot = (filled: number, status: OrderSnapshot["status"]): OrderSnapshot => ({
  id: "o1",
  clientOrderId: "c1",
  symbol: "AAA",
  side: "sell",
  type: "market",
  timeInForce: "day",
  qty: new Decimal(10),
  filledQty: new Decimal(filled),
  ...(filled > 0 ? { filledAvgPrice: new Decimal(20) } : {}),
  status,
  updatedAt: new Date(100),
});

describe("outcomeFromRecord", () => {
  it("counts a fill that landed after the cancel, and follows the broker's final status", () => {
    const record = new ExecutionRecord();
    record.observe(snapshot(0, "canceled"), 50);
    record.observe(snapshot(10, "filled"), 120);
    const o = outcomeFromRecord(canceled, record);
    expect(o.state).toBe("filled");
    expect(o.filledQty.toFixed()).toBe("10");
    expect(o.filledNotional.toFixed()).toBe("200");
    expect(o.avgPrice?.toFixed()).toBe("20");
  });

  it("keeps a canceled state with the part filled late", () => {
    const record = new ExecutionRecord();
    record.observe(snapshot(4, "canceled"), 120);
    const o = outcomeFromRecord(canceled, record);
    expect(o.state).toBe("canceled");
    expect(o.filledQty.toFixed()).toBe("4");
  });

  it("returns the outcome itself when the record knows nothing more", () => {
    const record = new ExecutionRecord();
    expect(outcomeFromRecord(canceled, record)).toBe(canceled);
    record.observe(snapshot(0, "canceled"), 50);
    expect(outcomeFromRecord(canceled, record)).toBe(canceled);
    expect(outcomeFromRecord({ ...canceled, orderId: undefined }, record).orderId).toBeUndefined();
  });
});
