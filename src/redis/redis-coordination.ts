import { randomBytes } from "node:crypto";
import { z } from "zod";
import {
  COORDINATION_DEFAULTS,
  type Coordination,
  type CoordinationLease,
  type CoordinationLedger,
  checkMicros,
  HOLD_STATES,
  type Hold,
  type HoldRequest,
  type HoldResult,
  type HoldState,
  type LeaseGrant,
  type RateLimiter,
  requestCap,
} from "../coordination/coordination.js";
import { type Clock, systemClock } from "../core/clock.js";
import { OrdersafeError } from "../core/errors.js";
import { parseInput, zClock } from "../core/validation.js";
import { zAccount } from "../journal/journal-store.js";
import { type RedisScriptClient, ScriptRunner } from "./redis-client.js";
import { RedisJournal } from "./redis-journal.js";
import {
  LEASE_ACQUIRE,
  LEASE_HOLDS,
  LEASE_RELEASE,
  LEASE_RENEW,
  LEDGER_BIND,
  LEDGER_HOLDS,
  LEDGER_RECONCILE,
  LEDGER_RELEASE,
  LEDGER_RESERVE,
  LEDGER_SET_CAP,
  RATE_TAKE,
} from "./scripts.js";

/**
 * The defaults of {@link createRedisCoordination}.
 *
 * @example
 * ```ts
 * createRedisCoordination({ client, account, keyPrefix: REDIS_COORDINATION_DEFAULTS.keyPrefix });
 * ```
 */
export const REDIS_COORDINATION_DEFAULTS = {
  keyPrefix: "ordersafe:",
  commandTimeoutMs: 2_000,
  requestsPerMinute: COORDINATION_DEFAULTS.requestsPerMinute,
  releaseLingerMs: COORDINATION_DEFAULTS.releaseLingerMs,
} as const;

/** Options of {@link createRedisCoordination}. */
export interface RedisCoordinationOptions {
  /** A connected node-redis client (or an ioredis one through `fromIoredis`). */
  client: RedisScriptClient;
  /** The account coordinated (the broker's account number). */
  account: string;
  /** Prefix of every key. @defaultValue `REDIS_COORDINATION_DEFAULTS.keyPrefix` ("ordersafe:") */
  keyPrefix?: string;
  /** The longest wait for one Redis answer (ms). @defaultValue `REDIS_COORDINATION_DEFAULTS.commandTimeoutMs` (2000) */
  commandTimeoutMs?: number;
  /** The API key's budget per minute. @defaultValue `REDIS_COORDINATION_DEFAULTS.requestsPerMinute` (200) */
  requestsPerMinute?: number;
  /** How long a released hold is still counted (ms). @defaultValue `REDIS_COORDINATION_DEFAULTS.releaseLingerMs` */
  releaseLingerMs?: number;
  /** Stamps journal entries written without `at`. @defaultValue systemClock */
  clock?: Clock;
}

const OptionsSchema = z
  .object({
    client: z.custom<RedisScriptClient>(
      (v) =>
        typeof v === "object" &&
        v !== null &&
        typeof (v as { evalSha?: unknown }).evalSha === "function" &&
        typeof (v as { eval?: unknown }).eval === "function",
      { message: "expected a node-redis client (or fromIoredis(client))" },
    ),
    account: zAccount,
    keyPrefix: z
      .string()
      .max(64)
      .regex(/^[A-Za-z0-9:._-]*$/)
      .optional(),
    commandTimeoutMs: z.number().int().min(10).max(60_000).optional(),
    requestsPerMinute: z.number().int().min(1).max(100_000).optional(),
    releaseLingerMs: z.number().int().min(0).max(3_600_000).optional(),
    clock: zClock.optional(),
  })
  .strict();

/**
 * Coordination of every process on one account through Redis: the account lease, the
 * reservation ledger (atomic Lua scripts, integers in micro-dollars), the journal (a list per
 * account, appends fenced by the lease) and the API key's rate budget.
 *
 * @remarks
 * Keys are `<keyPrefix>{<account>}:<what>` (one hash slot per account). Every call is bounded
 * by `commandTimeoutMs`; a Redis that cannot be reached makes every call throw
 * `coordination_unavailable`, and the rebalancer then trades nothing. Redis 7.0 or later.
 *
 * @param options - client, account, keyPrefix, commandTimeoutMs, requestsPerMinute, releaseLingerMs, clock
 * @returns a {@link Coordination}
 * @throws ValidationError (`validation`) for bad options
 * @example
 * ```ts
 * import { createClient } from "redis";
 * import { SmartRebalancer } from "ordersafe";
 * import { createRedisCoordination } from "ordersafe/redis";
 * const client = createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true });
 * await client.connect();
 * const coordination = createRedisCoordination({ client, account: "PA123" });
 * const rebalancer = new SmartRebalancer({ broker, coordination, strategyId: "momentum", scope: "sleeve" });
 * ```
 */
export function createRedisCoordination(options: RedisCoordinationOptions): Coordination {
  const o = parseInput(OptionsSchema, options, "options");
  const d = REDIS_COORDINATION_DEFAULTS;
  const prefix = o.keyPrefix ?? d.keyPrefix;
  const key = (account: string, what: string) => `${prefix}{${account}}:${what}`;
  const runner = new ScriptRunner(o.client, o.commandTimeoutMs ?? d.commandTimeoutMs);
  const lingerMs = o.releaseLingerMs ?? d.releaseLingerMs;
  let fenced: string | undefined;
  const journal = new RedisJournal(
    runner,
    {
      list: (a) => key(a, "journal"),
      generation: (a) => key(a, "journal:gen"),
      lease: (a) => key(a, "lease"),
    },
    o.clock ?? systemClock,
    (a) => (a === o.account ? fenced : undefined),
    `redis:${prefix}`,
  );
  return {
    id: `redis:${prefix}`,
    account: o.account,
    lease: redisLease(runner, key(o.account, "lease")),
    ledger: redisLedger(runner, key(o.account, "holds"), key(o.account, "caps"), lingerMs),
    journal,
    rateLimiter: redisRateLimiter(runner, key(o.account, "rate"), o.requestsPerMinute ?? d.requestsPerMinute),
    fence(token) {
      fenced = token;
    },
  };
}

function redisLease(runner: ScriptRunner, leaseKey: string): CoordinationLease {
  const one = async (reply: Promise<unknown>) => Number(await reply) === 1;
  return {
    async acquire(holder: string, ttlMs: number): Promise<LeaseGrant> {
      const token = `${holder}:${randomBytes(8).toString("hex")}`;
      const r = listOf(await runner.run(LEASE_ACQUIRE, [leaseKey], [token, String(ttlMs)]));
      if (Number(r[0]) === 1) return { ok: true, token };
      const heldBy = String(r[1] ?? "");
      return {
        ok: false,
        heldBy: heldBy === "" ? undefined : heldBy.slice(0, heldBy.lastIndexOf(":")),
        retryInMs: Math.max(1, Number(r[2] ?? 1)),
      };
    },
    renew: (token, ttlMs) => one(runner.run(LEASE_RENEW, [leaseKey], [token, String(ttlMs)])),
    release: (token) => one(runner.run(LEASE_RELEASE, [leaseKey], [token])),
    holds: (token) => one(runner.run(LEASE_HOLDS, [leaseKey], [token])),
  };
}

const REFUSALS = ["insufficient", "strategy_cap", "exists"] as const;

function redisLedger(
  runner: ScriptRunner,
  holdsKey: string,
  capsKey: string,
  lingerMs: number,
): CoordinationLedger {
  return {
    async reserve(request: HoldRequest): Promise<HoldResult> {
      const amount = checkMicros("amount", request.amount);
      const capacity = checkMicros("capacity", request.capacity);
      const ttl = request.ttlMs ?? COORDINATION_DEFAULTS.reservationTtlMs;
      const own = requestCap(request);
      const r = listOf(
        await runner.run(
          LEDGER_RESERVE,
          [holdsKey, capsKey],
          [
            request.key,
            request.strategyId,
            String(amount),
            String(capacity),
            String(ttl),
            own.cap === undefined ? "" : String(own.cap),
            String(own.spent),
          ],
        ),
      );
      if (r[0] === "ok") return { ok: true, reserved: Number(r[1]), strategyReserved: Number(r[2]) };
      const reason = REFUSALS.find((x) => x === r[0]);
      if (reason === undefined) throw protocol("ledger.reserve", r[0]);
      return { ok: false, reason, available: Number(r[1]) };
    },
    async bind(key, clientOrderId) {
      return Number(await runner.run(LEDGER_BIND, [holdsKey], [key, clientOrderId])) === 1;
    },
    async release(key) {
      return Number(await runner.run(LEDGER_RELEASE, [holdsKey], [key, String(lingerMs)])) === 1;
    },
    async reconcile(openClientOrderIds, graceMs) {
      const grace = graceMs ?? COORDINATION_DEFAULTS.reconcileGraceMs;
      const r = await runner.run(
        LEDGER_RECONCILE,
        [holdsKey],
        [String(grace), String(lingerMs), ...openClientOrderIds],
      );
      return listOf(r).map(String);
    },
    async setCap(strategyId, amount) {
      const value = amount === null ? "" : String(checkMicros("amount", amount));
      await runner.run(LEDGER_SET_CAP, [capsKey], [strategyId, value]);
    },
    async holds(): Promise<Hold[]> {
      const [, ...flat] = listOf(await runner.run(LEDGER_HOLDS, [holdsKey], []));
      const out: Hold[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push(decodeHold(String(flat[i]), String(flat[i + 1])));
      return out;
    },
  };
}

function decodeHold(key: string, value: string): Hold {
  const [s, a, st, at, e, c] = value.split("\t");
  const state = HOLD_STATES.find((x) => x === st);
  if (s === undefined || state === undefined) throw protocol("ledger.holds", value);
  const expires = Number(e);
  return {
    key,
    strategyId: s,
    amount: Number(a),
    state: state satisfies HoldState,
    clientOrderIds: c === undefined || c === "" ? [] : c.split(","),
    at: Number(at),
    expiresAt: expires < 0 ? undefined : expires,
  };
}

function redisRateLimiter(runner: ScriptRunner, bucketKey: string, perMinute: number): RateLimiter {
  return {
    async take(cost = 1) {
      return Number(await runner.run(RATE_TAKE, [bucketKey], [String(perMinute), String(cost)]));
    },
  };
}

function listOf(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw protocol("a script", reply);
  return reply;
}

function protocol(what: string, value: unknown): OrdersafeError {
  return new OrdersafeError("coordination_unavailable", `[ordersafe/redis] unexpected reply to ${what}`, {
    details: { value: String(value) },
  });
}
