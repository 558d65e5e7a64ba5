// Starts a real redis-server for a test: a unix socket in a fresh temp directory, persistence
// off. No mock: a missing redis-server fails the test with a message saying how to install it.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";

/** A redis-server this test started. */
export interface TestRedis {
  /** The unix socket it listens on. */
  readonly socket: string;
  /** A URL for node-redis: `unix://…`. */
  readonly url: string;
  /** The server process. */
  readonly proc: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
}

/** The redis-server binary: on PATH, or where Debian puts it. */
export function redisServerPath(): string {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
  if (found !== "") return found;
  if (existsSync("/usr/bin/redis-server")) return "/usr/bin/redis-server";
  throw new Error(
    "redis-server is not installed: these tests need a real Redis 7 " +
      "(`apt-get install -y redis-server`; .ci/run installs it)",
  );
}

/**
 * Starts a redis-server on a unix socket in a temp directory (`--save "" --appendonly no`,
 * no TCP port) and waits until it answers PING.
 *
 * @returns the running server
 * @throws when redis-server is missing or does not answer within 10 s
 */
export async function startRedis(): Promise<TestRedis> {
  const bin = redisServerPath();
  const dir = mkdtempSync(join(tmpdir(), "ordersafe-redis-"));
  const socket = join(dir, "redis.sock");
  const proc = spawn(
    bin,
    [
      "--port",
      "0",
      "--unixsocket",
      socket,
      "--unixsocketperm",
      "700",
      "--save",
      "",
      "--appendonly",
      "no",
    ].concat(["--dir", dir, "--daemonize", "no", "--loglevel", "warning"]),
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  let failed: Error | undefined;
  proc.once("error", (e) => {
    failed = e;
  });
  const url = `unix://${socket}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (failed !== undefined) throw failed;
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode} before answering`);
    if (existsSync(socket) && (await pings(socket))) break;
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error("redis-server did not answer PING within 10 s");
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    socket,
    url,
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pings(socket: string): Promise<boolean> {
  const client = createClient({ socket: { path: socket, tls: false, reconnectStrategy: false } });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    if (client.isOpen) await client.quit().catch(() => undefined);
  }
}
