import { z } from "zod";
import type {
  BrokerPort,
  ListOrdersQuery,
  OrderRequest,
  OrderSnapshot,
  OrderUpdate,
  StreamStatus,
} from "../broker/broker-port.js";
import { isFinalBrokerStatus } from "../broker/broker-port.js";
import {
  parseAccountSnapshot,
  parseAssetRules,
  parseLatestPrices,
  parseLatestQuotes,
  parseMarketClock,
  parseOrderSnapshot,
  parseOrderSnapshots,
  parseOrderUpdate,
  parsePositionSnapshot,
  parsePositionSnapshots,
} from "../broker/schemas.js";
import { Decimal, type DecimalLike, Rounding, toDecimal, ZERO } from "../core/decimal.js";
import { type BrokerErrorCode, isBrokerError } from "../core/errors.js";
import { parseInput } from "../core/validation.js";

/**
 * What a conformance run needs to make things happen at the broker under test.
 *
 * @remarks
 * On a simulated broker `wait` advances its virtual clock; on a real broker (or a fake
 * server over HTTP) it really waits. The account must be able to buy `buyNotional` dollars
 * of `symbol` and the market must be open. The suite buys and closes positions in `symbol`:
 * never point it at an account whose holdings in `symbol` matter.
 *
 * @example
 * ```ts
 * const driver: ConformanceDriver = { symbol: "TECL", wait: (ms) => clock.advance(ms), run: (p) => clock.run(p) };
 * ```
 */
export interface ConformanceDriver {
  /** A tradable, fractionable symbol with a price, not otherwise held by the account. */
  readonly symbol: string;
  /** A symbol the broker does not know. @defaultValue `CONFORMANCE_DEFAULTS.unknownSymbol` ("ZZZZQ9") */
  readonly unknownSymbol?: string;
  /**
   * Lets `ms` of the broker's time pass, so that fills, cancels and stream deliveries happen.
   *
   * @param ms - how long
   */
  wait(ms: number): Promise<void>;
  /**
   * Drives one broker call to completion (on a virtual clock: `clock.run(promise)`); omitted,
   * the promise is simply awaited.
   */
  run?<T>(call: Promise<T>): Promise<T>;
  /**
   * Prefix of the client order ids the suite makes; make it unique per run against a real broker.
   * @defaultValue `CONFORMANCE_DEFAULTS.clientOrderIdPrefix` ("conformance")
   */
  readonly clientOrderIdPrefix?: string;
  /** How long (broker time) to wait for a fill, a cancel or a connection. @defaultValue `CONFORMANCE_DEFAULTS.timeoutMs` (30000) */
  readonly timeoutMs?: number;
  /** The step of every wait while polling. @defaultValue `CONFORMANCE_DEFAULTS.pollMs` (100) */
  readonly pollMs?: number;
  /** Dollars per market buy the suite places (≥ 1, well inside buying power). @defaultValue `CONFORMANCE_DEFAULTS.buyNotional` (10) */
  readonly buyNotional?: DecimalLike;
  /** Releases what `makeBroker` set up (a server, a socket); called after every test. */
  dispose?(): Promise<void> | void;
}

/**
 * A fresh port and its driver, made for each test.
 *
 * @example
 * ```ts
 * const setup: ConformanceSetup = { broker, driver: { symbol: "SPY", wait: (ms) => clock.advance(ms) } };
 * ```
 */
export interface ConformanceSetup {
  /** The port under test. */
  broker: BrokerPort;
  /** How the suite makes things happen. */
  driver: ConformanceDriver;
}

/**
 * Makes a fresh {@link ConformanceSetup}; called once per test.
 *
 * @example
 * ```ts
 * const make: MakeConformanceBroker = async () => ({ broker: await connect(), driver });
 * ```
 */
export type MakeConformanceBroker = () => ConformanceSetup | Promise<ConformanceSetup>;

/**
 * The test functions the suite registers with: vitest's and jest's fit as they are.
 * `expect` is accepted for symmetry and not needed: the suite throws its own errors, so any
 * runner with `describe(name, fn)` and `it(name, fn, timeout?)` works.
 *
 * @example
 * ```ts
 * import { describe, it } from "vitest";
 * const fns: ConformanceTestFunctions = { describe, it };
 * ```
 */
export interface ConformanceTestFunctions {
  /** Groups tests. */
  describe(name: string, fn: () => void): void;
  /** Registers one test. */
  it(name: string, fn: () => Promise<void>, timeoutMs?: number): void;
  /** Unused; accepted so `import { describe, it, expect } from "vitest"` can be passed whole. */
  expect?: unknown;
}

/**
 * Options of {@link runBrokerConformance}.
 *
 * @example
 * ```ts
 * const options: ConformanceOptions = { describe, it, testTimeoutMs: 300_000 };
 * ```
 */
export interface ConformanceOptions extends Partial<ConformanceTestFunctions> {
  /** The runner's timeout per test, in real ms. @defaultValue `CONFORMANCE_DEFAULTS.testTimeoutMs` (120000) */
  testTimeoutMs?: number;
}

/**
 * The defaults of {@link ConformanceDriver} and {@link ConformanceOptions}.
 *
 * @example
 * ```ts
 * const driver: ConformanceDriver = { symbol: "SPY", wait, timeoutMs: CONFORMANCE_DEFAULTS.timeoutMs * 2 };
 * ```
 */
export const CONFORMANCE_DEFAULTS = {
  unknownSymbol: "ZZZZQ9",
  clientOrderIdPrefix: "conformance",
  timeoutMs: 30_000,
  pollMs: 100,
  buyNotional: 10,
  testTimeoutMs: 120_000,
} as const;

const NameSchema = z.string().min(1);
const OptionsSchema = z
  .object({
    describe: z.function().optional(),
    it: z.function().optional(),
    expect: z.unknown().optional(),
    testTimeoutMs: z.number().int().positive().optional(),
  })
  .strict();

const UNKNOWN_ORDER_ID = "00000000-0000-4000-8000-000000000000";

class ConformanceFailure extends Error {
  constructor(message: string) {
    super(`[ordersafe] conformance: ${message}`);
    this.name = "ConformanceFailure";
  }
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ConformanceFailure(message);
}

async function expectBrokerError(what: string, p: Promise<unknown>, code: BrokerErrorCode): Promise<void> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  check(error !== undefined, `${what}: expected BrokerError("${code}"), but the call succeeded`);
  check(
    isBrokerError(error, code),
    `${what}: expected BrokerError("${code}"), got ${isBrokerError(error) ? `BrokerError("${error.code}")` : String(error)}`,
  );
  // A port's own BrokerError class may carry anything here: check it.
  const brokerCode: unknown = error.brokerCode;
  check(brokerCode === undefined || typeof brokerCode === "string", `${what}: brokerCode must be a string`);
}

async function expectRejection(what: string, p: Promise<unknown>, reason: unknown): Promise<void> {
  let error: unknown = "<<resolved>>";
  try {
    await p;
  } catch (e) {
    error = e;
  }
  check(error === reason, `${what}: expected the abort reason, got ${String(error)}`);
}

/** The helpers one test uses, bound to its setup. */
class Harness {
  private counter = 0;
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly symbol: string;
  readonly unknownSymbol: string;
  readonly buyNotional: Decimal;
  /** Every order the test placed, to clean up. */
  readonly placed: string[] = [];

  constructor(
    readonly broker: BrokerPort,
    readonly driver: ConformanceDriver,
    private readonly testId: string,
  ) {
    this.timeoutMs = driver.timeoutMs ?? CONFORMANCE_DEFAULTS.timeoutMs;
    this.pollMs = driver.pollMs ?? CONFORMANCE_DEFAULTS.pollMs;
    this.symbol = driver.symbol;
    this.unknownSymbol = driver.unknownSymbol ?? CONFORMANCE_DEFAULTS.unknownSymbol;
    this.buyNotional = toDecimal(
      driver.buyNotional ?? CONFORMANCE_DEFAULTS.buyNotional,
      "driver.buyNotional",
    );
  }

  run<T>(p: Promise<T>): Promise<T> {
    return this.driver.run ? this.driver.run(p) : p;
  }

  /** Every client order id this test made. */
  readonly issued: string[] = [];

  clientId(): string {
    const prefix = this.driver.clientOrderIdPrefix ?? CONFORMANCE_DEFAULTS.clientOrderIdPrefix;
    const id = `${prefix}-${this.testId}-${++this.counter}`;
    this.issued.push(id);
    return id;
  }

  async until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
    let waited = 0;
    for (;;) {
      const value = await probe();
      if (value !== null && value !== undefined && value !== false) return value;
      if (waited >= this.timeoutMs) throw new ConformanceFailure(`timed out waiting for ${what}`);
      await this.driver.wait(this.pollMs);
      waited += this.pollMs;
    }
  }

  async price(): Promise<Decimal> {
    const prices = parseLatestPrices(await this.run(this.broker.getLatestPrices([this.symbol])));
    const p = prices.get(this.symbol);
    check(p !== undefined, `getLatestPrices: no price for the driver's symbol ${this.symbol}`);
    return p;
  }

  /** A limit buy of one share at half the price: accepted, never marketable. */
  async farBuy(clientOrderId = this.clientId()): Promise<OrderRequest> {
    const half = (await this.price()).div(2);
    const limit = half.toDecimalPlaces(half.gte(1) ? 2 : 4, Rounding.down);
    return {
      clientOrderId,
      symbol: this.symbol,
      side: "buy",
      type: "limit",
      timeInForce: "day",
      qty: new Decimal(1),
      limitPrice: limit,
    };
  }

  async submit(request: OrderRequest): Promise<OrderSnapshot> {
    this.placed.push(request.clientOrderId);
    const order = parseOrderSnapshot(await this.run(this.broker.submitOrder(request)));
    check(order.clientOrderId === request.clientOrderId, "submitOrder: the reply has another clientOrderId");
    return order;
  }

  async order(id: string): Promise<OrderSnapshot> {
    return this.until(`order ${id} to be visible`, async () => {
      const o = await this.run(this.broker.getOrder(id));
      return o === null ? null : parseOrderSnapshot(o);
    });
  }

  async final(id: string, what: string): Promise<OrderSnapshot> {
    return this.until(`${what} (order ${id}) to reach a final status`, async () => {
      const o = await this.run(this.broker.getOrder(id));
      return o !== null && isFinalBrokerStatus(o.status) ? parseOrderSnapshot(o) : null;
    });
  }

  async buyAndFill(): Promise<OrderSnapshot> {
    const order = await this.submit({
      clientOrderId: this.clientId(),
      symbol: this.symbol,
      side: "buy",
      type: "market",
      timeInForce: "day",
      notional: this.buyNotional,
    });
    const done = await this.final(order.id, "a market buy");
    check(done.status === "filled", `a market buy ended ${done.status}, expected filled`);
    return done;
  }

  /** Cancels whatever this test left open and closes the position it made. */
  async cleanup(): Promise<void> {
    for (const clientOrderId of this.placed) {
      try {
        const o = await this.run(this.broker.getOrderByClientOrderId(clientOrderId));
        if (o !== null && !isFinalBrokerStatus(o.status)) {
          await this.run(this.broker.cancelOrder(o.id));
          await this.final(o.id, "the cleanup cancel");
        }
      } catch {
        // best effort: the test's own failure is what matters
      }
    }
  }
}

/**
 * Registers a test suite that checks a `BrokerPort` against every contract rule of
 * DESIGN.md: snapshots that pass the schemas, lookups by id and client order id, client ids
 * refused forever, refusals thrown at submit, cancel accepted ≠ canceled, an update for
 * every status change with per-fill quantities, `connected` before updates, unknown symbols
 * omitted, `closePosition` and its `not_found` when flat, abort semantics, and, for a port
 * that declares `orderHistory`, its `listOrders` (the member is there; new orders listed
 * newest first; `status`, open by default; `symbols`; `limit`; `after` / `until` exclusive
 * on `createdAt`; an order refused at submit never listed); for a port that declares
 * `quotes`, `getLatestQuotes`; for one that declares `replace`, `replaceOrder` (a new order,
 * the old one `replaced`, refusals).
 *
 * @param name - a name for the port (the suite is `BrokerPort conformance: <name>`)
 * @param makeBroker - makes a fresh port and its {@link ConformanceDriver}, once per test
 * @param options - the runner's `describe` and `it` (and the per-test timeout); omitted,
 *   they are imported from vitest (an optional peer dependency)
 * @returns a promise resolved once the tests are registered (at once when `describe` and `it` are given)
 * @throws ValidationError (`validation`) for a bad name or options; a ConformanceFailure
 *   (inside a test) naming the broken rule
 * @remarks Runs against a real broker too: give a driver whose `wait` really waits and a
 *   `clientOrderIdPrefix` unique to the run; the market must be open.
 * @example
 * ```ts
 * import { describe, it } from "vitest";
 * runBrokerConformance("simulated", () => {
 *   const clock = new VirtualClock();
 *   const broker = createSimulatedBroker({ clock, prices: { SPY: 500 } });
 *   return { broker, driver: { symbol: "SPY", wait: (ms) => clock.advance(ms), run: (p) => clock.run(p) } };
 * }, { describe, it });
 * ```
 */
export async function runBrokerConformance(
  name: string,
  makeBroker: MakeConformanceBroker,
  options: ConformanceOptions = {},
): Promise<void> {
  const portName = parseInput(NameSchema, name, "name");
  const opts = parseInput(OptionsSchema, options, "options");
  if (typeof makeBroker !== "function") {
    parseInput(z.function(), makeBroker, "makeBroker");
  }
  let fns: ConformanceTestFunctions;
  if (options.describe !== undefined && options.it !== undefined) {
    fns = { describe: options.describe, it: options.it };
  } else {
    // vitest is an optional peer: imported only when the caller did not pass test functions.
    const specifier = "vitest";
    const vitest: unknown = await import(specifier);
    if (!hasTestFunctions(vitest))
      throw new Error("[ordersafe] conformance: vitest has no describe() and it()");
    fns = vitest;
  }
  registerSuite(portName, makeBroker, fns, opts.testTimeoutMs ?? CONFORMANCE_DEFAULTS.testTimeoutMs);
}

function hasTestFunctions(m: unknown): m is ConformanceTestFunctions {
  return (
    typeof m === "object" &&
    m !== null &&
    "describe" in m &&
    typeof m.describe === "function" &&
    "it" in m &&
    typeof m.it === "function"
  );
}

function registerSuite(
  name: string,
  makeBroker: MakeConformanceBroker,
  fns: ConformanceTestFunctions,
  timeout: number,
): void {
  fns.describe(`BrokerPort conformance: ${name}`, () => {
    CONFORMANCE_GROUPS.forEach((group, i) => {
      fns.it(group.title, () => runGroup(makeBroker, `t${i + 1}`, group.run), timeout);
    });
  });
}

/** One test: a fresh port, the group's checks, then the cleanup whatever happened. */
async function runGroup(
  makeBroker: MakeConformanceBroker,
  testId: string,
  run: (h: Harness) => Promise<void>,
): Promise<void> {
  const { broker, driver } = await makeBroker();
  const h = new Harness(broker, driver, testId);
  try {
    await run(h);
  } finally {
    await h.cleanup();
    await driver.dispose?.();
  }
}

/** A group of contract rules, checked by one test. */
interface ConformanceGroup {
  readonly title: string;
  readonly run: (h: Harness) => Promise<void>;
}

async function snapshotsPassTheSchemas(h: Harness): Promise<void> {
  const { broker } = h;
  check(typeof broker.id === "string" && broker.id.length > 0, "id must be a non-empty string");
  const caps = broker.capabilities;
  for (const k of ["fractional", "notionalOrders", "closePosition", "orderUpdates"] as const) {
    check(typeof caps[k] === "boolean", `capabilities.${k} must be a boolean`);
  }
  const account = parseAccountSnapshot(await h.run(broker.getAccount()));
  check(account.asOf instanceof Date, "account.asOf must be a Date");
  parsePositionSnapshots(await h.run(broker.getPositions()));
  const position = await h.run(broker.getPosition(h.symbol));
  if (position !== null) parsePositionSnapshot(position);
  const assets = parseAssetRules(await h.run(broker.getAssets([h.symbol])));
  check(
    assets.some((a) => a.symbol === h.symbol && a.tradable),
    `getAssets: the driver's symbol ${h.symbol} is missing or untradable`,
  );
  await h.price();
  parseMarketClock(await h.run(broker.getClock()));
  parseOrderSnapshots(await h.run(broker.listOpenOrders()));
}

async function unknownsAreOmittedOrNull(h: Harness): Promise<void> {
  const { broker } = h;
  const assets = parseAssetRules(await h.run(broker.getAssets([h.symbol, h.unknownSymbol])));
  check(
    assets.every((a) => a.symbol !== h.unknownSymbol),
    "getAssets must omit an unknown symbol",
  );
  const prices = parseLatestPrices(await h.run(broker.getLatestPrices([h.symbol, h.unknownSymbol])));
  check(!prices.has(h.unknownSymbol), "getLatestPrices must omit an unknown symbol");
  check(prices.has(h.symbol), "getLatestPrices must include the driver's symbol");
  check((await h.run(broker.getPosition(h.unknownSymbol))) === null, "getPosition(unknown) must be null");
  check((await h.run(broker.getOrder(UNKNOWN_ORDER_ID))) === null, "getOrder(unknown id) must be null");
  check(
    (await h.run(broker.getOrderByClientOrderId(h.clientId()))) === null,
    "getOrderByClientOrderId(unknown) must be null",
  );
  const positions = parsePositionSnapshots(await h.run(broker.getPositions()));
  check(
    positions.every((p) => !p.qty.isZero()),
    "getPositions must omit zero positions",
  );
}

async function lookupsFindTheOrder(h: Harness): Promise<void> {
  const request = await h.farBuy();
  const order = await h.submit(request);
  check(!isFinalBrokerStatus(order.status), `a far limit buy came back ${order.status}`);
  const byId = await h.order(order.id);
  check(byId.clientOrderId === request.clientOrderId, "getOrder: another clientOrderId");
  check(byId.symbol === h.symbol && byId.side === "buy" && byId.type === "limit", "getOrder: fields differ");
  const limit = request.limitPrice;
  check(
    byId.qty?.eq(1) === true && limit !== undefined && byId.limitPrice?.eq(limit) === true,
    "getOrder: qty or limit differ",
  );
  const byClient = await h.until("the lookup by client order id", async () => {
    const o = await h.run(h.broker.getOrderByClientOrderId(request.clientOrderId));
    return o === null ? null : parseOrderSnapshot(o);
  });
  check(byClient.id === order.id, "getOrderByClientOrderId: another id");
  await h.until("the order in listOpenOrders", async () => {
    const open = parseOrderSnapshots(await h.run(h.broker.listOpenOrders()));
    return open.some((o) => o.id === order.id);
  });
}

async function clientOrderIdsRefusedForever(h: Harness): Promise<void> {
  const request = await h.farBuy();
  const order = await h.submit(request);
  await expectBrokerError(
    "a second submit with an open order's client id",
    h.run(h.broker.submitOrder({ ...request })),
    "duplicate_client_order_id",
  );
  await h.order(order.id);
  await h.run(h.broker.cancelOrder(order.id));
  const ended = await h.final(order.id, "a cancel");
  check(ended.status === "canceled", `a canceled far limit buy ended ${ended.status}`);
  await expectBrokerError(
    "a submit reusing a canceled order's client id",
    h.run(h.broker.submitOrder({ ...request })),
    "duplicate_client_order_id",
  );
}

async function refusalsAreThrown(h: Harness): Promise<void> {
  const { broker } = h;
  const base = { side: "buy" as const, type: "market" as const, timeInForce: "day" as const };
  const submit = (request: Omit<OrderRequest, "side" | "type" | "timeInForce"> & Partial<OrderRequest>) =>
    h.run(broker.submitOrder({ ...base, ...request }));
  await expectBrokerError(
    "an unknown symbol",
    submit({ clientOrderId: h.clientId(), symbol: h.unknownSymbol, qty: new Decimal(1) }),
    "invalid_order",
  );
  const account = parseAccountSnapshot(await h.run(broker.getAccount()));
  const tooMuch = Decimal.max(account.buyingPower, account.cash, account.equity)
    .times(10)
    .plus(1_000_000)
    .floor();
  await expectBrokerError(
    "a buy far above buying power",
    submit({ clientOrderId: h.clientId(), symbol: h.symbol, notional: tooMuch }),
    "insufficient_buying_power",
  );
  const held = (await h.run(broker.getPosition(h.symbol)))?.qty ?? ZERO;
  await expectBrokerError(
    "a sell of more than is held",
    submit({ side: "sell", clientOrderId: h.clientId(), symbol: h.symbol, qty: held.plus("1000.5") }),
    "insufficient_quantity",
  );
  const price = await h.price();
  await expectBrokerError(
    "a notional limit order",
    submit({
      type: "limit",
      clientOrderId: h.clientId(),
      symbol: h.symbol,
      notional: h.buyNotional,
      limitPrice: price.toDecimalPlaces(2, Rounding.down),
    }),
    "invalid_order",
  );
  const open = parseOrderSnapshots(await h.run(broker.listOpenOrders()));
  check(!open.some((o) => h.issued.includes(o.clientOrderId)), "a refused order must not be open");
}

async function cancelAcceptedIsNotCanceled(h: Harness): Promise<void> {
  const order = await h.submit(await h.farBuy());
  await h.order(order.id);
  await h.run(h.broker.cancelOrder(order.id));
  const after = parseOrderSnapshot(await h.order(order.id));
  check(
    ["pending_cancel", "canceled", "new", "accepted", "pending_new"].includes(after.status),
    `right after cancelOrder the order is ${after.status}`,
  );
  const ended = await h.final(order.id, "a cancel");
  check(ended.status === "canceled", `a canceled far limit buy ended ${ended.status}`);
  const open = parseOrderSnapshots(await h.run(h.broker.listOpenOrders()));
  check(!open.some((o) => o.id === order.id), "listOpenOrders must not list a canceled order");
  await expectBrokerError(
    "cancelOrder on a canceled order",
    h.run(h.broker.cancelOrder(order.id)),
    "not_cancelable",
  );
}

type StreamEvent = { status: StreamStatus } | { update: OrderUpdate };

async function updatesFollowEveryChange(h: Harness): Promise<void> {
  const log: StreamEvent[] = [];
  const sub = h.broker.subscribeOrderUpdates({
    onUpdate: (update) => log.push({ update }),
    onStatus: (status) => log.push({ status }),
  });
  try {
    await h.until("onStatus(connected)", async () =>
      log.some((e) => "status" in e && e.status === "connected"),
    );
    const done = await h.buyAndFill();
    const updates = await h.until("the fill update", async () => {
      const mine = log.flatMap((e) => ("update" in e && e.update.order.id === done.id ? [e.update] : []));
      return mine.some((u) => u.order.status === "filled") ? mine : null;
    });
    checkUpdates(log, updates, done);
  } finally {
    sub.close();
  }
  await closeQuietly(h);
}

/** `connected` first, an acceptance, cumulative quantities that never fall, fills that add up, the fill last. */
function checkUpdates(
  log: readonly StreamEvent[],
  updates: readonly OrderUpdate[],
  done: OrderSnapshot,
): void {
  const firstUpdate = log.findIndex((e) => "update" in e);
  const connected = log.findIndex((e) => "status" in e && e.status === "connected");
  check(connected >= 0 && connected < firstUpdate, "onStatus(connected) must come before the first update");
  for (const u of updates) parseOrderUpdate(u);
  check(
    updates.some((u) => u.event === "new" || u.event === "accepted" || u.event === "pending_new"),
    `no update for the order's acceptance (events: ${updates.map((u) => u.event).join(", ")})`,
  );
  let cumulative = ZERO;
  const seen = new Set<string>();
  let fills = ZERO;
  for (const u of updates) {
    check(u.order.filledQty.gte(cumulative), "filledQty must never decrease across updates");
    cumulative = u.order.filledQty;
    if (u.event === "fill" || u.event === "partial_fill") {
      check(u.fill !== undefined, `a ${u.event} update must carry its fill`);
      const key = u.fill.executionId ?? u.order.filledQty.toString();
      if (seen.has(key)) continue;
      seen.add(key);
      fills = fills.plus(u.fill.qty);
    }
  }
  check(
    fills.eq(done.filledQty),
    `the fills' own quantities sum to ${fills.toString()}, the order's filledQty is ${done.filledQty.toString()}`,
  );
  check(updates[updates.length - 1]?.event === "fill", "the last update of a filled order must be its fill");
}

async function closePositionSellsTheHeldQuantity(h: Harness): Promise<void> {
  await h.buyAndFill();
  const position = await h.until("the bought position", async () => {
    const p = await h.run(h.broker.getPosition(h.symbol));
    return p === null ? null : parsePositionSnapshot(p);
  });
  const price = await h.price();
  const sell = await h.submit({
    clientOrderId: h.clientId(),
    symbol: h.symbol,
    side: "sell",
    type: "limit",
    timeInForce: "day",
    qty: position.qty,
    limitPrice: price.times(2).toDecimalPlaces(2, Rounding.up),
  });
  await h.until("the open sell to hold the shares", async () => {
    const p = await h.run(h.broker.getPosition(h.symbol));
    return p !== null && parsePositionSnapshot(p).qtyAvailable.lt(position.qty);
  });
  await expectBrokerError(
    "closePosition while open sells hold the shares",
    h.run(h.broker.closePosition(h.symbol)),
    "insufficient_quantity",
  );
  await h.run(h.broker.cancelOrder(sell.id));
  await h.final(sell.id, "the sell's cancel");
  await h.until("the shares to be released", async () => {
    const p = await h.run(h.broker.getPosition(h.symbol));
    return p !== null && parsePositionSnapshot(p).qtyAvailable.eq(position.qty);
  });
  await closeAndCheck(h, position.qty);
}

/** closePosition sells exactly the position and fills; then the position is gone and a second close is `not_found`. */
async function closeAndCheck(h: Harness, held: Decimal): Promise<void> {
  const close = parseOrderSnapshot(await h.run(h.broker.closePosition(h.symbol)));
  check(close.side === "sell" && close.symbol === h.symbol, "closePosition must sell the symbol");
  check(close.qty?.eq(held) === true, `closePosition sold ${String(close.qty)}, the position is ${held}`);
  const closed = await h.final(close.id, "the closing sell");
  check(closed.status === "filled", `the closing sell ended ${closed.status}`);
  await h.until(
    "the position to be gone",
    async () => (await h.run(h.broker.getPosition(h.symbol))) === null,
  );
  await expectBrokerError("closePosition when flat", h.run(h.broker.closePosition(h.symbol)), "not_found");
}

async function abortSemantics(h: Harness): Promise<void> {
  const reason = new Error("conformance abort");
  const pre = AbortSignal.abort(reason);
  const request = await h.farBuy();
  await expectRejection(
    "submitOrder with an aborted signal",
    h.run(h.broker.submitOrder(request, { signal: pre })),
    reason,
  );
  await expectRejection(
    "getAccount with an aborted signal",
    h.run(h.broker.getAccount({ signal: pre })),
    reason,
  );
  await h.driver.wait(h.pollMs);
  check(
    (await h.run(h.broker.getOrderByClientOrderId(request.clientOrderId))) === null,
    "a submit aborted before the call must not place the order",
  );

  const write = new AbortController();
  const inFlight = await h.farBuy();
  h.placed.push(inFlight.clientOrderId);
  const submitting = h.broker.submitOrder(inFlight, { signal: write.signal });
  write.abort(reason);
  await expectBrokerError("a submit aborted in flight", h.run(submitting), "ambiguous");

  const read = new AbortController();
  const reading = h.broker.getPositions({ signal: read.signal });
  read.abort(reason);
  await expectRejection("a read aborted in flight", h.run(reading), reason);
}

/**
 * The order history, for a port that declares `orderHistory`: a final order and an open one
 * just placed are listed, newest first; `status` (open by default), `symbols`, `limit`,
 * `after` / `until` exclusive on the submission time (`createdAt`); an order refused at
 * submit is never listed. A port without the capability has nothing to check here.
 */
async function orderHistoryLists(h: Harness): Promise<void> {
  const { broker } = h;
  if (broker.capabilities.orderHistory !== true) return;
  const listOrders = broker.listOrders?.bind(broker);
  check(listOrders !== undefined, "capabilities.orderHistory is true, but the port has no listOrders");
  const list = async (query: ListOrdersQuery) => parseOrderSnapshots(await h.run(listOrders(query)));
  const final = await h.buyAndFill();
  // The two submissions must be apart in time for after / until to tell them apart.
  await h.driver.wait(h.pollMs);
  const open = await h.submit(await h.farBuy());
  await h.order(open.id);
  const [t1, t2] = [final.createdAt, open.createdAt];
  check(
    t1 !== undefined && t2 !== undefined,
    "listOrders: the orders must carry createdAt, their submission time",
  );
  check(
    t1 < t2,
    `two orders submitted ${h.pollMs} ms apart have createdAt ${t1.toISOString()} and ${t2.toISOString()}`,
  );
  const since = new Date(t1.getTime() - 1);
  const has = (l: readonly OrderSnapshot[], o: OrderSnapshot) => l.some((x) => x.id === o.id);
  const all = await h.until('both orders in listOrders({ status: "all" })', async () => {
    const l = await list({ status: "all", after: since });
    return has(l, final) && has(l, open) ? l : null;
  });
  checkNewestFirst(all, open, final);
  await refusedNotListed(h, list, since);
  const byDefault = await list({ after: since });
  check(has(byDefault, open) && !has(byDefault, final), "listOrders({}) must list the open orders only");
  check(
    byDefault.every((o) => !isFinalBrokerStatus(o.status)),
    "listOrders({}) listed a final order",
  );
  const openOnly = await list({ status: "open", after: since });
  check(
    has(openOnly, open) && !has(openOnly, final),
    'listOrders({ status: "open" }) must list the open orders only',
  );
  const closed = await list({ status: "closed", after: since });
  check(
    has(closed, final) && !has(closed, open),
    'listOrders({ status: "closed" }) must list the final orders only',
  );
  check(
    closed.every((o) => isFinalBrokerStatus(o.status)),
    'listOrders({ status: "closed" }) listed an open order',
  );
  const mine = await list({ status: "all", after: since, symbols: [h.symbol] });
  check(has(mine, open) && has(mine, final), "listOrders({ symbols }) must list the orders on those symbols");
  check(
    mine.every((o) => o.symbol === h.symbol),
    "listOrders({ symbols }) listed another symbol",
  );
  const other = await list({ status: "all", after: since, symbols: [h.unknownSymbol] });
  check(!has(other, open) && !has(other, final), "listOrders({ symbols }) listed an order on another symbol");
  const newest = await list({ status: "all", after: since, limit: 1 });
  check(
    newest.length === 1 && newest[0]?.id === all[0]?.id,
    `listOrders({ limit: 1 }) must return the newest order alone, got ${newest.length}`,
  );
  const afterFinal = await list({ status: "all", after: t1 });
  check(has(afterFinal, open) && !has(afterFinal, final), "listOrders({ after }) must be exclusive");
  const untilOpen = await list({ status: "all", after: since, until: t2 });
  check(has(untilOpen, final) && !has(untilOpen, open), "listOrders({ until }) must be exclusive");
  await closeQuietly(h);
}

/** Newest first by submission time: the later order first, `createdAt` never rising. */
function checkNewestFirst(all: readonly OrderSnapshot[], later: OrderSnapshot, earlier: OrderSnapshot): void {
  const at = (o: OrderSnapshot) => all.findIndex((x) => x.id === o.id);
  check(at(later) < at(earlier), "listOrders must list the newest order first");
  for (let i = 1; i < all.length; i++) {
    const [a, b] = [all[i - 1]?.createdAt, all[i]?.createdAt];
    check(a === undefined || b === undefined || a >= b, "listOrders must list orders newest first");
  }
  const listed = all.find((x) => x.id === earlier.id);
  check(listed?.status === "filled", `listOrders shows a filled order as ${String(listed?.status)}`);
}

/** An order refused at submit was never made: the history does not list it. */
async function refusedNotListed(
  h: Harness,
  list: (query: ListOrdersQuery) => Promise<OrderSnapshot[]>,
  since: Date,
): Promise<void> {
  const account = parseAccountSnapshot(await h.run(h.broker.getAccount()));
  const clientOrderId = h.clientId();
  const tooMuch = Decimal.max(account.buyingPower, account.cash, account.equity)
    .times(10)
    .plus(1_000_000)
    .floor();
  await expectBrokerError(
    "a buy far above buying power",
    h.run(
      h.broker.submitOrder({
        clientOrderId,
        symbol: h.symbol,
        side: "buy",
        type: "market",
        timeInForce: "day",
        notional: tooMuch,
      }),
    ),
    "insufficient_buying_power",
  );
  const listed = await list({ status: "all", after: since });
  check(
    !listed.some((o) => o.clientOrderId === clientOrderId),
    "listOrders listed an order refused at submit",
  );
}

/** Every conformance test, in the order they are registered (their ids, t1…, are part of their client order ids). */
const CONFORMANCE_GROUPS: readonly ConformanceGroup[] = [
  { title: "snapshots pass the schemas", run: snapshotsPassTheSchemas },
  {
    title: "unknown symbols are omitted; unknown orders and flat positions are null",
    run: unknownsAreOmittedOrNull,
  },
  {
    title: "submit, then look up by id and by client order id; open orders list it",
    run: lookupsFindTheOrder,
  },
  {
    title: "client order ids are refused forever, even after the order ended",
    run: clientOrderIdsRefusedForever,
  },
  { title: "refusals known at submit are thrown as BrokerError", run: refusalsAreThrown },
  {
    title: "cancel accepted is not canceled; a final order is not cancelable",
    run: cancelAcceptedIsNotCanceled,
  },
  {
    title: "connected before updates; an update for every status change with per-fill quantities",
    run: updatesFollowEveryChange,
  },
  {
    title:
      "closePosition sells exactly the held quantity; not_found when flat; insufficient_quantity when held",
    run: closePositionSellsTheHeldQuantity,
  },
  {
    title: "abort: before the call nothing happens; in flight a write is ambiguous and a read rejects",
    run: abortSemantics,
  },
  {
    title:
      "orderHistory: listOrders lists new orders newest first; status (open by default), symbols, limit, after / until exclusive",
    run: orderHistoryLists,
  },
  { title: "quotes: getLatestQuotes quotes the symbol and omits unknown ones", run: quotesRead },
  {
    title: "replace: replaceOrder makes a new order and ends the old one replaced; refusals",
    run: replaceMakesANewOrder,
  },
];

/**
 * Latest quotes, for a port that declares `quotes`: the member is there; the driver's symbol
 * has a quote (bid and ask ≥ 0, at least one side quoted, a date) that passes the schema;
 * an unknown symbol is omitted.
 */
async function quotesRead(h: Harness): Promise<void> {
  const { broker } = h;
  if (broker.capabilities.quotes !== true) return;
  const read = broker.getLatestQuotes?.bind(broker);
  check(read !== undefined, "capabilities.quotes is true, but the port has no getLatestQuotes");
  const quotes = parseLatestQuotes(await h.run(read([h.symbol, h.unknownSymbol])));
  const q = await h.until(
    `a quote of ${h.symbol}`,
    async () => quotes.get(h.symbol) ?? parseLatestQuotes(await h.run(read([h.symbol]))).get(h.symbol),
  );
  check(q.bid.gt(0) || q.ask.gt(0), `getLatestQuotes: ${h.symbol} is quoted on neither side`);
  check(!quotes.has(h.unknownSymbol), "getLatestQuotes must omit an unknown symbol");
}

/**
 * Replace, for a port that declares `replace`: a resting limit buy replaced with a new limit
 * and client order id is a new order (new id, the changes) and the old one ends `replaced`,
 * found by both lookups; the new one works (cancelable); an unknown order is `not_found`; a
 * final order is refused and stays as it was.
 */
async function replaceMakesANewOrder(h: Harness): Promise<void> {
  const { broker } = h;
  if (broker.capabilities.replace !== true) return;
  const replace = broker.replaceOrder?.bind(broker);
  check(replace !== undefined, "capabilities.replace is true, but the port has no replaceOrder");
  const request = await h.farBuy();
  const old = await h.submit(request);
  await h.until(`order ${old.id} to be working`, async () => {
    const o = await h.run(broker.getOrder(old.id));
    return o !== null && (o.status === "new" || o.status === "partially_filled");
  });
  const limit = (request.limitPrice ?? new Decimal(1)).minus(request.limitPrice?.gte(1) ? "0.01" : "0.0001");
  const clientOrderId = h.clientId();
  h.placed.push(clientOrderId);
  const created = parseOrderSnapshot(await h.run(replace(old.id, { limitPrice: limit, clientOrderId })));
  check(created.id !== old.id, "replaceOrder must return a new order (a new id)");
  check(created.clientOrderId === clientOrderId, "replaceOrder: the new order has another clientOrderId");
  check(created.limitPrice?.eq(limit) === true, "replaceOrder: the new order must carry the new limit price");
  const ended = await h.final(old.id, "the replaced order");
  check(ended.status === "replaced", `the replaced order ended ${ended.status}, expected replaced`);
  const byClientId = await h.until("the new order by client order id", async () =>
    h.run(broker.getOrderByClientOrderId(clientOrderId)),
  );
  check(byClientId.id === created.id, "getOrderByClientOrderId must find the new order of a replace");
  await expectBrokerError(
    "a replace of an unknown order",
    h.run(replace("00000000-0000-4000-8000-000000000000", { limitPrice: limit })),
    "not_found",
  );
  await h.run(broker.cancelOrder(created.id));
  const canceled = await h.final(created.id, "the new order's cancel");
  let refused: unknown;
  try {
    await h.run(replace(canceled.id, { limitPrice: limit }));
  } catch (e) {
    refused = e;
  }
  check(isBrokerError(refused), "a replace of a final order must be refused with a BrokerError");
  const after = await h.order(canceled.id);
  check(after.status === canceled.status, "a refused replace changed the order");
}

async function closeQuietly(h: Harness): Promise<void> {
  try {
    const close = await h.run(h.broker.closePosition(h.symbol));
    await h.final(close.id, "the closing sell");
  } catch {
    // best effort
  }
}
