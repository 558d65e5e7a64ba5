// The webhook sink against a real HTTP server on 127.0.0.1 (real sockets, real time: the
// waits are tens of milliseconds).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Alert, isOrdersafeError, webhookSink } from "ordersafe";
import { afterEach, describe, expect, it } from "vitest";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let server: Server | undefined;

async function serve(
  handlers: Handler[],
): Promise<{ url: string; bodies: string[]; headers: IncomingMessage["headers"][] }> {
  const bodies: string[] = [];
  const headers: IncomingMessage["headers"][] = [];
  let n = 0;
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", () => {
      bodies.push(body);
      headers.push(req.headers);
      const h = handlers[Math.min(n++, handlers.length - 1)];
      h?.(req, body, res);
    });
  });
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/T0KEN-in-the-path`, bodies, headers };
}

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s === undefined) return;
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
});

const reply =
  (status: number): Handler =>
  (_q, _b, res) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end("{}");
  };
const never: Handler = () => {};

const alert = (): Alert => ({
  kind: "halted",
  severity: "critical",
  runId: "run-1",
  message: "halted while using key PKSECRET123",
  details: { token: "abc", consecutiveFailures: 5, note: "account PKSECRET123" },
  at: "2026-12-01T00:00:00.000Z",
});

describe("webhookSink", () => {
  it("POSTs the alert as JSON with secrets redacted, retrying a 5xx", async () => {
    const hook = await serve([reply(503), reply(200)]);
    const sink = webhookSink({
      url: hook.url,
      headers: { authorization: "Bearer hook-token" },
      secrets: ["PKSECRET123"],
      backoff: { initialMs: 10 },
    });
    await sink.send(alert());
    expect(hook.bodies).toHaveLength(2);
    const body = JSON.parse(hook.bodies[1] ?? "");
    expect(body).toEqual({
      alert: {
        kind: "halted",
        severity: "critical",
        runId: "run-1",
        message: "halted while using key [redacted]",
        details: { token: "[redacted]", consecutiveFailures: 5, note: "account [redacted]" },
        at: "2026-12-01T00:00:00.000Z",
      },
    });
    expect(hook.headers[0]?.["content-type"]).toBe("application/json");
    expect(hook.headers[0]?.authorization).toBe("Bearer hook-token");
  });

  it("times an attempt out and tries again", async () => {
    const hook = await serve([never, reply(204)]);
    // Long enough for a loaded machine to answer the second attempt in time.
    const sink = webhookSink({ url: hook.url, timeoutMs: 2_000, backoff: { initialMs: 10 } });
    await sink.send(alert());
    expect(hook.bodies).toHaveLength(2);
  });

  it("does not retry a 4xx other than 429, and the error shows neither the URL nor the headers", async () => {
    const hook = await serve([reply(400)]);
    const logged: unknown[] = [];
    const sink = webhookSink({
      url: hook.url,
      headers: { authorization: "Bearer hook-token" },
      backoff: { initialMs: 10 },
      logger: {
        debug() {},
        info() {},
        warn: (...a) => void logged.push(a),
        error: (...a) => void logged.push(a),
      },
    });
    const error = await Promise.resolve(sink.send(alert())).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isOrdersafeError(error) && error.code).toBe("unavailable");
    expect(hook.bodies).toHaveLength(1);
    const text = `${String(error)} ${JSON.stringify(logged)}`;
    expect(text).toContain("HTTP 400");
    expect(text).not.toContain("T0KEN");
    expect(text).not.toContain("hook-token");
  });

  it("gives up after the retries", async () => {
    const hook = await serve([reply(500)]);
    const sink = webhookSink({ url: hook.url, retries: 2, backoff: { initialMs: 5 } });
    await expect(sink.send(alert())).rejects.toMatchObject({ code: "unavailable" });
    expect(hook.bodies).toHaveLength(3);
  });

  it("refuses a bad URL without showing it", () => {
    let error: unknown;
    try {
      webhookSink({ url: "ftp://user:T0KEN@example.com/x" });
    } catch (e) {
      error = e;
    }
    expect(isOrdersafeError(error) && error.code).toBe("validation");
    expect(JSON.stringify(error) + String(error)).not.toContain("T0KEN");
  });
});
