import { randomBytes } from "node:crypto";
import { z } from "zod";
import { type Clock, systemClock } from "../core/clock.js";
import { parseInput, zClock } from "../core/validation.js";
import type { JournalEntryInput, RunOutcome } from "../journal/journal-entry.js";
import {
  type FinishRunOptions,
  type JournalAppendOptions,
  type JournalStore,
  zAccount,
  zJournalStore,
} from "../journal/journal-store.js";
import { memoryJournal } from "../journal/memory-journal.js";
import {
  COORDINATION_DEFAULTS,
  type Coordination,
  type CoordinationLease,
  type CoordinationLedger,
  checkMicros,
  type Hold,
  type HoldRequest,
  type HoldResult,
  type LeaseGrant,
  leaseLostError,
  type RateLimiter,
  requestCap,
} from "./coordination.js";

/** Options of {@link inProcessCoordination}. */
export interface InProcessCoordinationOptions {
  /** The account coordinated. */
  account: string;
  /** The clock of leases, expiries and the rate budget. @defaultValue systemClock */
  clock?: Clock;
  /** The journal shared by the rebalancers. @defaultValue a `memoryJournal()` */
  journal?: JournalStore;
  /** The API key's budget per minute. @defaultValue `COORDINATION_DEFAULTS.requestsPerMinute` (200) */
  requestsPerMinute?: number;
  /** How long a released hold is still counted (ms). @defaultValue `COORDINATION_DEFAULTS.releaseLingerMs` */
  releaseLingerMs?: number;
}

const OptionsSchema = z
  .object({
    account: zAccount,
    clock: zClock.optional(),
    journal: zJournalStore.optional(),
    requestsPerMinute: z.number().int().min(1).max(100_000).optional(),
    releaseLingerMs: z.number().int().min(0).max(3_600_000).optional(),
  })
  .strict();

/**
 * Coordination between rebalancers of one process (the lease, the ledger, the journal and the
 * rate budget in memory): the same port as `createRedisCoordination()`, for one process.
 *
 * @param options - account, clock, journal, requestsPerMinute, releaseLingerMs
 * @returns a {@link Coordination}
 * @throws ValidationError (`validation`) for bad options
 * @example
 * ```ts
 * const coordination = inProcessCoordination({ account: "PA123" });
 * const a = new SmartRebalancer({ broker, coordination, strategyId: "momentum", scope: "sleeve" });
 * const b = new SmartRebalancer({ broker, coordination, strategyId: "carry", scope: "sleeve" });
 * ```
 */
export function inProcessCoordination(options: InProcessCoordinationOptions): Coordination {
  const o = parseInput(OptionsSchema, options, "options");
  const clock = o.clock ?? systemClock;
  const lease = new MemoryLease(clock);
  let fenced: string | undefined;
  const checkFence = () => {
    if (fenced !== undefined && !lease.holdsNow(fenced)) throw leaseLostError(o.account);
  };
  return {
    id: "in-process",
    account: o.account,
    lease,
    ledger: new MemoryLedger(clock, o.releaseLingerMs ?? COORDINATION_DEFAULTS.releaseLingerMs),
    journal: fencedJournal(o.journal ?? memoryJournal({ clock }), checkFence),
    rateLimiter: new MemoryRateLimiter(clock, o.requestsPerMinute ?? COORDINATION_DEFAULTS.requestsPerMinute),
    fence(token) {
      fenced = token;
    },
  };
}

/** A journal whose writes first check a fence (the lease still holds). */
export function fencedJournal(journal: JournalStore, check: () => void): JournalStore {
  return {
    id: journal.id,
    async append(account: string, entries: readonly JournalEntryInput[], options?: JournalAppendOptions) {
      check();
      return journal.append(account, entries, options);
    },
    openRuns: (account, options) => journal.openRuns(account, options),
    async finishRun(account: string, runId: string, outcome: RunOutcome, options?: FinishRunOptions) {
      check();
      return journal.finishRun(account, runId, outcome, options);
    },
    async compact(account, options) {
      check();
      return journal.compact(account, options);
    },
    close: () => journal.close(),
  };
}

class MemoryLease implements CoordinationLease {
  private current: { token: string; holder: string; expiresAt: number } | undefined;

  constructor(private readonly clock: Clock) {}

  holdsNow(token: string): boolean {
    const c = this.current;
    return c !== undefined && c.token === token && c.expiresAt > this.clock.now();
  }

  async acquire(holder: string, ttlMs: number): Promise<LeaseGrant> {
    const now = this.clock.now();
    const c = this.current;
    if (c !== undefined && c.expiresAt > now) {
      return { ok: false, heldBy: c.holder, retryInMs: c.expiresAt - now };
    }
    const token = `${holder}:${randomBytes(8).toString("hex")}`;
    this.current = { token, holder, expiresAt: now + ttlMs };
    return { ok: true, token };
  }

  async renew(token: string, ttlMs: number): Promise<boolean> {
    if (!this.holdsNow(token) || this.current === undefined) return false;
    this.current.expiresAt = this.clock.now() + ttlMs;
    return true;
  }

  async release(token: string): Promise<boolean> {
    if (!this.holdsNow(token)) return false;
    this.current = undefined;
    return true;
  }

  async holds(token: string): Promise<boolean> {
    return this.holdsNow(token);
  }
}

interface MutableHold {
  strategyId: string;
  amount: number;
  state: Hold["state"];
  clientOrderIds: string[];
  at: number;
  expiresAt: number | undefined;
}

class MemoryLedger implements CoordinationLedger {
  private readonly holdsByKey = new Map<string, MutableHold>();
  private readonly caps = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly lingerMs: number,
  ) {}

  private purge(now: number): void {
    for (const [key, h] of this.holdsByKey) {
      if (h.expiresAt !== undefined && h.expiresAt <= now) this.holdsByKey.delete(key);
    }
  }

  async reserve(request: HoldRequest): Promise<HoldResult> {
    const amount = checkMicros("amount", request.amount);
    const capacity = checkMicros("capacity", request.capacity);
    const own = requestCap(request);
    const now = this.clock.now();
    this.purge(now);
    if (this.holdsByKey.has(request.key)) return { ok: false, reason: "exists", available: 0 };
    let total = 0;
    let mine = 0;
    let live = 0;
    for (const h of this.holdsByKey.values()) {
      total += h.amount;
      if (h.strategyId !== request.strategyId) continue;
      mine += h.amount;
      if (h.state !== "released") live += h.amount;
    }
    if (total + amount > capacity)
      return { ok: false, reason: "insufficient", available: Math.max(0, capacity - total) };
    const cap = this.caps.get(request.strategyId);
    if (cap !== undefined && mine + amount > cap) {
      return { ok: false, reason: "strategy_cap", available: Math.max(0, cap - mine) };
    }
    if (own.cap !== undefined && live + own.spent + amount > own.cap) {
      return { ok: false, reason: "strategy_cap", available: Math.max(0, own.cap - live - own.spent) };
    }
    const ttl = request.ttlMs ?? COORDINATION_DEFAULTS.reservationTtlMs;
    this.holdsByKey.set(request.key, {
      strategyId: request.strategyId,
      amount,
      state: "reserved",
      clientOrderIds: [],
      at: now,
      expiresAt: now + ttl,
    });
    return { ok: true, reserved: total + amount, strategyReserved: mine + amount };
  }

  async bind(key: string, clientOrderId: string): Promise<boolean> {
    const now = this.clock.now();
    this.purge(now);
    const h = this.holdsByKey.get(key);
    if (h === undefined || h.state === "released") return false;
    if (!h.clientOrderIds.includes(clientOrderId)) h.clientOrderIds.push(clientOrderId);
    h.state = "bound";
    h.at = now;
    h.expiresAt = undefined;
    return true;
  }

  async release(key: string): Promise<boolean> {
    const now = this.clock.now();
    this.purge(now);
    const h = this.holdsByKey.get(key);
    if (h === undefined || h.state === "released") return false;
    h.state = "released";
    h.at = now;
    h.expiresAt = now + this.lingerMs;
    if (this.lingerMs === 0) this.holdsByKey.delete(key);
    return true;
  }

  async reconcile(openClientOrderIds: readonly string[], graceMs?: number): Promise<string[]> {
    const grace = graceMs ?? COORDINATION_DEFAULTS.reconcileGraceMs;
    const open = new Set(openClientOrderIds);
    const now = this.clock.now();
    const gone = [...this.holdsByKey]
      .filter(
        ([, h]) => h.state === "bound" && h.at <= now - grace && !h.clientOrderIds.some((c) => open.has(c)),
      )
      .map(([key]) => key);
    for (const key of gone) await this.release(key);
    return gone;
  }

  async setCap(strategyId: string, amount: number | null): Promise<void> {
    if (amount === null) this.caps.delete(strategyId);
    else this.caps.set(strategyId, checkMicros("amount", amount));
  }

  async holds(): Promise<Hold[]> {
    this.purge(this.clock.now());
    return [...this.holdsByKey].map(([key, h]) => ({ key, ...h, clientOrderIds: [...h.clientOrderIds] }));
  }
}

class MemoryRateLimiter implements RateLimiter {
  private tokens: number;
  private at: number;

  constructor(
    private readonly clock: Clock,
    private readonly perMinute: number,
  ) {
    this.tokens = perMinute;
    this.at = clock.now();
  }

  async take(cost = 1): Promise<number> {
    const now = this.clock.now();
    const rate = this.perMinute / 60_000;
    this.tokens = Math.min(this.perMinute, this.tokens + Math.max(0, now - this.at) * rate);
    this.at = now;
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return 0;
    }
    return Math.ceil((cost - this.tokens) / rate);
  }
}
