import { hostname } from "node:os";
import type { Coordination } from "../coordination/coordination.js";
import { OrdersafeError } from "../core/errors.js";
import type { RebalancerSettings } from "./rebalance-run.js";

/**
 * Runs `body` holding the account's lease when the rebalancer has a coordination: takes it
 * (waiting up to `leaseWaitMs` while another process holds it), fences the journal with it,
 * renews it every third of its TTL while the body runs, and gives it up after.
 *
 * @param settings - the rebalancer's settings (coordination, clock, lease TTL and wait)
 * @param signal - the run's signal
 * @param body - the run, given the lease token (undefined without a coordination)
 * @returns what the body returns
 * @throws OrdersafeError (`lease_held`) when another process kept the lease past the wait;
 *   (`coordination_unavailable`) when the store cannot be reached: nothing was done
 */
export async function withLease<T>(
  settings: RebalancerSettings,
  signal: AbortSignal | undefined,
  body: (token: string | undefined) => Promise<T>,
): Promise<T> {
  const c = settings.coordination;
  if (c === undefined) return body(undefined);
  const token = await takeLease(c, settings, signal);
  c.fence(token);
  const stop = new AbortController();
  const renewing = keepLease(c, settings, token, stop.signal);
  try {
    return await body(token);
  } finally {
    stop.abort();
    await renewing;
    c.fence(undefined);
    await c.lease
      .release(token)
      .catch((e: unknown) =>
        settings.logger.warn({ error: String(e) }, "[ordersafe] the account lease could not be released"),
      );
  }
}

async function takeLease(c: Coordination, settings: RebalancerSettings, signal: AbortSignal | undefined) {
  const { clock, leaseTtlMs, leaseWaitMs } = settings;
  const holder = `${hostname()}:${process.pid}`;
  const until = clock.now() + leaseWaitMs;
  for (;;) {
    const grant = await c.lease.acquire(holder, leaseTtlMs);
    if (grant.ok) return grant.token;
    const left = until - clock.now();
    if (left <= 0) {
      throw new OrdersafeError(
        "lease_held",
        `the lease on account ${c.account} is held by ${grant.heldBy ?? "another process"}`,
        {
          details: { account: c.account, heldBy: grant.heldBy },
          retryable: true,
        },
      );
    }
    await clock.sleep(Math.max(1, Math.min(grant.retryInMs, 250, left)), signal);
  }
}

async function keepLease(
  c: Coordination,
  settings: RebalancerSettings,
  token: string,
  signal: AbortSignal,
): Promise<void> {
  const every = Math.max(1, Math.floor(settings.leaseTtlMs / 3));
  for (;;) {
    try {
      await settings.clock.sleep(every, signal);
    } catch {
      return; // the run ended
    }
    // A renewal refused or failed: the next write finds the lease gone and the run stops there.
    const renewed = await c.lease.renew(token, settings.leaseTtlMs).catch(() => false);
    if (!renewed) {
      settings.logger.error({ account: c.account }, "[ordersafe] the account lease could not be renewed");
      return;
    }
  }
}
