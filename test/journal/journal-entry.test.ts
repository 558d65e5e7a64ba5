import {
  ANSWER_RESULTS,
  Decimal,
  JOURNAL_ENTRY_TYPES,
  JournalEntrySchema,
  parseJournalEntry,
  RUN_OUTCOMES,
  SEND_OPS,
} from "ordersafe";
import { describe, expect, it } from "vitest";
import { accepted, final, intent, refused, runStart, submit } from "./fixtures.js";

const v1 = (e: object) => ({ v: 1, ...e });

function issuePaths(raw: unknown): string[] {
  try {
    parseJournalEntry(raw);
  } catch (e) {
    expect((e as { code?: string }).code).toBe("validation");
    return ((e as { issues: { path: string }[] }).issues ?? []).map((i) => i.path);
  }
  throw new Error("parsed");
}

describe("journal entries", () => {
  it("every entry type, send op and answer result parses", () => {
    const samples = [
      runStart("r"),
      intent("r"),
      submit("r", "c1"),
      { type: "send", runId: "r", at: 1, sendId: "k1", op: "cancel", orderId: "o1", clientOrderId: "c1" },
      { type: "send", runId: "r", at: 1, sendId: "k2", op: "close", symbol: "FNGU" },
      {
        type: "send",
        runId: "r",
        at: 1,
        sendId: "k3",
        op: "replace",
        orderId: "o1",
        symbol: "AAA",
        side: "buy",
        changes: { qty: 5, limitPrice: "10.5", clientOrderId: "c1-r" },
      },
      accepted("r", "c1"),
      { type: "answer", runId: "r", at: 1, sendId: "k1", result: "accepted" },
      refused("r", "c1"),
      { type: "answer", runId: "r", at: 1, sendId: "k2", result: "ambiguous", message: "socket hang up" },
      final("r", "c1"),
      {
        type: "not_placed",
        runId: "r",
        at: 1,
        sendId: "c1",
        clientOrderId: "c1",
        by: "r2",
        afterMs: 120_000,
      },
      { type: "run_end", runId: "r", at: 1, outcome: "completed" },
    ];
    const parsed = samples.map((s) => parseJournalEntry(v1(s)));
    expect(new Set(parsed.map((p) => p.type))).toEqual(new Set(JOURNAL_ENTRY_TYPES));
    expect(new Set(parsed.flatMap((p) => (p.type === "send" ? [p.op] : [])))).toEqual(new Set(SEND_OPS));
    expect(new Set(parsed.flatMap((p) => (p.type === "answer" ? [p.result] : [])))).toEqual(
      new Set(ANSWER_RESULTS),
    );
    expect(RUN_OUTCOMES).toEqual(["completed", "abandoned", "superseded"]);
    // Parsed entries are plain JSON and parse again to themselves.
    for (const p of parsed) {
      expect(JSON.parse(JSON.stringify(p))).toEqual(p);
      expect(parseJournalEntry(JSON.parse(JSON.stringify(p)))).toEqual(p);
    }
  });

  it("writes decimals as plain strings, never in exponent form, and times as ISO strings", () => {
    const e = parseJournalEntry(
      v1({
        ...intent("r"),
        notional: undefined,
        qty: new Decimal("1e-9"),
        limitPrice: 1250.75,
        orderType: "limit",
      }),
    );
    expect(e).toMatchObject({ qty: "0.000000001", limitPrice: "1250.75" });
    const s = parseJournalEntry(v1(runStart("r")));
    if (s.type !== "run_start") throw new Error("type");
    expect(s.account.asOf).toBe("2026-11-25T14:30:00.000Z");
    expect(s.positions[1]!.qty).toBe("10.123456789");
    const big = parseJournalEntry(
      v1({ ...runStart("r"), targets: { quantities: { SPY: "1.5e3", BIL: -0 } } }),
    );
    expect(big.type === "run_start" && big.targets).toEqual({ quantities: { SPY: "1500", BIL: "0" } });
    const offset = parseJournalEntry(
      v1({
        ...runStart("r"),
        account: { ...(runStart("r") as { account: object }).account, asOf: "2026-11-25T09:30:00-05:00" },
      }),
    );
    expect(offset.type === "run_start" && offset.account.asOf).toBe("2026-11-25T14:30:00.000Z");
  });

  it("refuses what is not an entry, naming the path", () => {
    expect(issuePaths({ ...intent("r") })).toContain("entry.v"); // no version
    expect(issuePaths(v1({ ...intent("r"), v: 2 }))).toContain("entry.v");
    expect(issuePaths(v1({ ...intent("r"), qty: "3" }))).toContain("entry.qty"); // qty and notional
    expect(issuePaths(v1({ ...intent("r"), notional: "1e400x" }))).toContain("entry.notional");
    expect(issuePaths(v1({ ...intent("r"), at: -1 }))).toContain("entry.at");
    expect(issuePaths(v1({ ...intent("r"), at: 1.5 }))).toContain("entry.at");
    expect(issuePaths(v1({ ...intent("r"), runId: "a\nb" }))).toContain("entry.runId");
    expect(issuePaths(v1({ ...intent("r"), symbol: "not a symbol" }))).toContain("entry.symbol");
    expect(issuePaths(v1({ ...refused("r", "c"), code: "oops" }))).toContain("entry.code");
    expect(issuePaths(v1({ ...submit("r", "c"), request: { clientOrderId: "c" } }))).toContain(
      "entry.request.symbol",
    );
    const f = final("r", "c") as { order: object };
    expect(issuePaths(v1({ ...f, order: { ...f.order, status: "partially_filled" } }))).toContain(
      "entry.order.status",
    );
    expect(issuePaths(v1({ ...runStart("r"), targets: { weights: {}, quantities: {} } }))).toContain(
      "entry.targets",
    );
    expect(issuePaths(v1({ ...runStart("r"), options: { x: Number.NaN } })).length).toBeGreaterThan(0);
    expect(issuePaths(v1({ type: "run_end", runId: "r", at: 1, outcome: "exploded" }))).toContain(
      "entry.outcome",
    );
    expect(issuePaths(JSON.parse('{"v":1,"type":"intent","__proto__":{"x":1}}'))).toEqual([
      "entry.__proto__",
    ]);
  });

  it("cuts a broker's long message to 500 characters", () => {
    const e = parseJournalEntry(v1({ ...refused("r", "c"), message: "x".repeat(5_000) }));
    expect(e.type === "answer" && e.result === "refused" && e.message?.length).toBe(500);
  });

  it("the schema's output type is the parse function's", () => {
    const raw = v1(submit("r", "c"));
    expect(JournalEntrySchema.parse(raw)).toEqual(parseJournalEntry(raw));
  });
});
