import { z } from "zod";
import { backoffDelay } from "../core/backoff.js";
import { type Clock, systemClock } from "../core/clock.js";
import { OrdersafeError, ValidationError } from "../core/errors.js";
import { type Logger, silentLogger } from "../core/logger.js";
import { parseInput } from "../core/validation.js";
import type { Alert, AlertSink } from "./alerts.js";

/**
 * The defaults of {@link WebhookSinkOptions}.
 *
 * @example
 * ```ts
 * webhookSink({ url, timeoutMs: WEBHOOK_SINK_DEFAULTS.timeoutMs * 2 });
 * ```
 */
export const WEBHOOK_SINK_DEFAULTS = Object.freeze({
  timeoutMs: 5_000,
  retries: 3,
  backoff: Object.freeze({ initialMs: 500, factor: 2, maxMs: 10_000 }),
});

/** Options of {@link webhookSink}. */
export interface WebhookSinkOptions {
  /** Where to POST (http or https). Never logged: it may carry a token. */
  url: string;
  /** Extra request headers (an `Authorization` header, for instance; never logged). */
  headers?: Record<string, string>;
  /** Per attempt (ms). @defaultValue `WEBHOOK_SINK_DEFAULTS.timeoutMs` (5000) */
  timeoutMs?: number;
  /** Attempts after the first, on a network error, a timeout, a 429 or a 5xx. @defaultValue 3 */
  retries?: number;
  /** Waits between attempts. @defaultValue `{ initialMs: 500, factor: 2, maxMs: 10000 }` */
  backoff?: { initialMs: number; factor?: number; maxMs?: number };
  /** Strings removed from every payload (API keys, account numbers), replaced by `[redacted]`. */
  secrets?: readonly string[];
  /** Waits run on it. @defaultValue systemClock */
  clock?: Clock;
  /** Where failures go (without the URL or headers). @defaultValue silent */
  logger?: Logger;
}

const OptionsSchema = z
  .object({
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), { message: "expected an http(s) URL" }),
    headers: z.record(z.string(), z.string()).optional(),
    timeoutMs: z.number().int().min(1).max(600_000).optional(),
    retries: z.number().int().min(0).max(20).optional(),
    backoff: z
      .object({
        initialMs: z.number().min(0),
        factor: z.number().min(1).optional(),
        maxMs: z.number().min(0).optional(),
      })
      .strict()
      .optional(),
    secrets: z.array(z.string()).optional(),
    clock: z.custom<Clock>((v) => typeof v === "object" && v !== null && "sleep" in v).optional(),
    logger: z.custom<Logger>((v) => typeof v === "object" && v !== null && "error" in v).optional(),
  })
  .strict();

const SECRET_KEY = /key|secret|token|password|authorization/i;

/** The payload with every secret string, and every credential-named field, redacted. */
function redact(value: unknown, secrets: readonly string[], key = ""): unknown {
  if (SECRET_KEY.test(key) && value !== null && value !== undefined) return "[redacted]";
  if (typeof value === "string") return secrets.reduce((t, s) => t.split(s).join("[redacted]"), value);
  if (Array.isArray(value)) return value.map((v) => redact(v, secrets));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, secrets, k)]));
  }
  return value;
}

/** An http(s) URL, or a `validation` error that does not show it. */
function checkUrl(url: unknown): void {
  let ok = false;
  try {
    ok = typeof url === "string" && /^https?:$/i.test(new URL(url).protocol);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new ValidationError("[ordersafe] invalid options: options.url: expected an http(s) URL", {
      issues: [{ path: "options.url", message: "expected an http(s) URL", value: "[redacted]" }],
    });
  }
}

/** Headers with each value replaced (strings stay strings, so the schema still checks the types). */
function standInHeaders(headers: unknown): unknown {
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) return headers;
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, typeof v === "string" ? "[redacted]" : v]),
  );
}

/** Whether another attempt may succeed. */
const retryableStatus = (status: number) => status === 429 || status >= 500;

/**
 * An alert sink that POSTs each alert as JSON (`{ "alert": … }`) to a URL, with a timeout per
 * attempt and retries with backoff on a network error, a timeout, a 429 or a 5xx (not on other
 * 4xx). Secrets (`secrets`, and any field named like a key, secret, token or password) are
 * redacted from the body; the URL and headers never appear in a log or an error.
 *
 * @param options - url, headers, timeoutMs, retries, backoff, secrets, clock, logger
 * @returns the sink
 * @throws ValidationError (`validation`) for bad options (the URL is not shown)
 * @example
 * ```ts
 * const sink = webhookSink({ url: process.env.ALERT_WEBHOOK!, secrets: [process.env.APCA_API_KEY_ID!] });
 * watchAlerts(rebalancer, { sinks: [sink] });
 * ```
 */
export function webhookSink(options: WebhookSinkOptions): AlertSink {
  checkUrl(options?.url);
  // The URL and headers may carry tokens: zod sees stand-ins, so an error never shows them.
  const o = parseInput(
    OptionsSchema,
    {
      ...options,
      url: "https://webhook.invalid/",
      ...(options.headers === undefined ? {} : { headers: standInHeaders(options.headers) }),
    },
    "options",
  );
  const url = options.url;
  const headers = options.headers ?? {};
  const clock = o.clock ?? systemClock;
  const logger = o.logger ?? silentLogger;
  const retries = o.retries ?? WEBHOOK_SINK_DEFAULTS.retries;
  const backoff = o.backoff ?? WEBHOOK_SINK_DEFAULTS.backoff;
  const timeoutMs = o.timeoutMs ?? WEBHOOK_SINK_DEFAULTS.timeoutMs;
  const secrets = (o.secrets ?? []).filter((s) => s.length > 0);

  const attempt = async (body: string): Promise<{ ok: boolean; retry: boolean; why: string }> => {
    const controller = new AbortController();
    const timer = clock.sleep(timeoutMs, controller.signal).then(
      () => controller.abort(),
      () => {},
    );
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
        signal: controller.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { ok: true, retry: false, why: "" };
      return { ok: false, retry: retryableStatus(res.status), why: `HTTP ${res.status}` };
    } catch {
      return {
        ok: false,
        retry: true,
        why: controller.signal.aborted ? `timeout after ${timeoutMs} ms` : "network error",
      };
    } finally {
      controller.abort();
      await timer;
    }
  };

  return {
    async send(alert: Alert) {
      const body = JSON.stringify({ alert: redact(alert, secrets) });
      let last = "";
      for (let n = 0; n <= retries; n++) {
        if (n > 0) await clock.sleep(backoffDelay(backoff, n - 1));
        const r = await attempt(body);
        if (r.ok) return;
        last = r.why;
        logger.warn("[ordersafe] alert webhook attempt failed", {
          kind: alert.kind,
          attempt: n + 1,
          why: r.why,
        });
        if (!r.retry) break;
      }
      throw new OrdersafeError("unavailable", `[ordersafe] alert webhook failed: ${last}`, {
        details: { kind: alert.kind },
      });
    },
  };
}
