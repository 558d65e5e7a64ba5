import {
  BROKER_ERROR_CODES,
  BrokerError,
  type BrokerErrorCode,
  isBrokerError,
  isOrdersafeError,
  isValidationError,
  ORDERSAFE_ERROR_CODES,
  OrdersafeError,
  type OrdersafeErrorCode,
  ValidationError,
} from "ordersafe";
import { describe, expect, expectTypeOf, it } from "vitest";

describe("errors", () => {
  it("prefixes messages and carries code, retryable, details and cause", () => {
    const cause = new Error("socket hang up");
    const e = new OrdersafeError("halted", "too many failures", { details: { failures: 3 }, cause });
    expect(e.message).toBe("[ordersafe] too many failures");
    expect(e.code).toBe("halted");
    expect(e.retryable).toBe(false);
    expect(e.details).toEqual({ failures: 3 });
    expect(e.cause).toBe(cause);
    expect(e).toBeInstanceOf(Error);
  });

  it("keeps an existing [ordersafe/alpaca] prefix", () => {
    expect(new BrokerError("unauthorized", "[ordersafe/alpaca] bad key").message).toBe(
      "[ordersafe/alpaca] bad key",
    );
  });

  it("marks only transport-level broker codes retryable", () => {
    const retryable = BROKER_ERROR_CODES.filter((c) => new BrokerError(c, "x").retryable);
    expect(retryable.sort()).toEqual(["ambiguous", "rate_limited", "unavailable"]);
  });

  it("BrokerError carries retryAfterMs and brokerCode", () => {
    const e = new BrokerError("rate_limited", "slow down", { retryAfterMs: 1500, brokerCode: "42910000" });
    expect(e.retryAfterMs).toBe(1500);
    expect(e.brokerCode).toBe("42910000");
    expect(e.name).toBe("BrokerError");
  });

  it("guards work by brand, not instanceof, and distinguish kinds", () => {
    const broker = new BrokerError("wash_trade", "potential wash trade detected");
    const validation = new ValidationError("bad", { issues: [{ path: "x", message: "m", value: 1 }] });
    // An error from another copy of the package: same brand, different class.
    const foreign = Object.assign(new Error("x"), { code: "ambiguous" });
    Object.defineProperty(foreign, Symbol.for("ordersafe.error"), { value: true });
    Object.defineProperty(foreign, Symbol.for("ordersafe.broker-error"), { value: true });

    expect(isOrdersafeError(broker)).toBe(true);
    expect(isBrokerError(broker)).toBe(true);
    expect(isBrokerError(broker, "wash_trade")).toBe(true);
    expect(isBrokerError(broker, "ambiguous")).toBe(false);
    expect(isBrokerError(validation)).toBe(false);
    expect(isValidationError(validation)).toBe(true);
    expect(validation.issues[0]?.path).toBe("x");
    expect(isBrokerError(foreign, "ambiguous")).toBe(true);
    expect(isOrdersafeError(new Error("plain"))).toBe(false);
    expect(isOrdersafeError(null)).toBe(false);
    expect(isOrdersafeError("string")).toBe(false);
  });

  it("error codes: the contract's seventeen broker codes, then ordersafe's own nine", () => {
    expectTypeOf<BrokerErrorCode>().toEqualTypeOf<
      | "insufficient_buying_power"
      | "insufficient_quantity"
      | "wash_trade"
      | "min_notional"
      | "not_fractionable"
      | "duplicate_client_order_id"
      | "invalid_order"
      | "not_found"
      | "not_cancelable"
      | "market_closed"
      | "rate_limited"
      | "unavailable"
      | "ambiguous"
      | "unauthorized"
      | "forbidden"
      | "protocol"
      | "rejected"
    >();
    expectTypeOf<OrdersafeErrorCode>().toEqualTypeOf<
      | "validation"
      | "invalid_state"
      | "halted"
      | "aborted"
      | "config"
      | "unsettled"
      | "journal_locked"
      | "journal_corrupt"
      | "journal_io"
      | "coordination_unavailable"
      | "lease_held"
      | "lease_lost"
      | "strategy_cap"
      | BrokerErrorCode
    >();
    expect(new Set(BROKER_ERROR_CODES).size).toBe(17);
    expect(new Set(ORDERSAFE_ERROR_CODES).size).toBe(30);
    expect(ORDERSAFE_ERROR_CODES.slice(13)).toEqual([...BROKER_ERROR_CODES]);
  });
});
