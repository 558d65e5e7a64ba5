import { createHash } from "node:crypto";
import { OrdersafeError } from "../core/errors.js";

/**
 * What ordersafe needs of a Redis client: running Lua scripts. A node-redis (v5) client has
 * both methods as they are; an ioredis client fits through {@link fromIoredis}.
 *
 * @example
 * ```ts
 * import { createClient } from "redis";
 * const client = createClient({ url: "redis://127.0.0.1:6379", disableOfflineQueue: true });
 * await client.connect();
 * createRedisCoordination({ client, account: "PA123" });
 * ```
 */
export interface RedisScriptClient {
  /** EVALSHA: runs a script the server has cached. */
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** EVAL: runs (and caches) a script. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** The part of an ioredis client {@link fromIoredis} uses. */
export interface IoredisLike {
  evalsha(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/**
 * Adapts an ioredis client to {@link RedisScriptClient}.
 *
 * @param client - an ioredis `Redis` (or `Cluster`) instance
 * @returns the adapter
 * @example
 * ```ts
 * import Redis from "ioredis";
 * createRedisCoordination({ client: fromIoredis(new Redis()), account: "PA123" });
 * ```
 */
export function fromIoredis(client: IoredisLike): RedisScriptClient {
  return {
    evalSha: (sha1, o) => client.evalsha(sha1, o.keys.length, ...o.keys, ...o.arguments),
    eval: (script, o) => client.eval(script, o.keys.length, ...o.keys, ...o.arguments),
  };
}

/** A Lua script with its SHA-1 (EVALSHA first, EVAL when the server does not have it). */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha1: string;
}

/**
 * Names a Lua source.
 *
 * @param name - what the script does (errors name it)
 * @param source - the Lua
 * @returns the script with its SHA-1
 */
export function luaScript(name: string, source: string): LuaScript {
  return { name, source, sha1: createHash("sha1").update(source).digest("hex") };
}

/**
 * Runs scripts on a client, with a bound on each call: a Redis that does not answer in time,
 * refuses, or is gone is `coordination_unavailable`, never a hang and never a guess.
 */
export class ScriptRunner {
  /**
   * @param client - the client
   * @param timeoutMs - the longest wait for one answer
   */
  constructor(
    private readonly client: RedisScriptClient,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Runs a script: EVALSHA, then EVAL when the server has not cached it (NOSCRIPT).
   *
   * @param script - the script
   * @param keys - its KEYS
   * @param args - its ARGV
   * @returns the reply
   * @throws OrdersafeError (`coordination_unavailable`) for any failure of the call
   */
  async run(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    const options = { keys, arguments: args };
    try {
      return await this.bounded(script, () => this.client.evalSha(script.sha1, options));
    } catch (e) {
      if (!isNoScript(e)) throw unavailable(script, e);
    }
    try {
      return await this.bounded(script, () => this.client.eval(script.source, options));
    } catch (e) {
      throw unavailable(script, e);
    }
  }

  private bounded<T>(script: LuaScript, call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer within ${this.timeoutMs} ms (${script.name})`)),
        this.timeoutMs,
      );
      timer.unref?.();
      let pending: Promise<T>;
      try {
        pending = call();
      } catch (e) {
        clearTimeout(timer);
        reject(e);
        return;
      }
      pending.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}

function isNoScript(e: unknown): boolean {
  return e instanceof Error && e.message.startsWith("NOSCRIPT");
}

function unavailable(script: LuaScript, cause: unknown): OrdersafeError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new OrdersafeError(
    "coordination_unavailable",
    `[ordersafe/redis] ${script.name} failed: ${message}; nothing is traded uncoordinated`,
    { cause, details: { script: script.name }, retryable: true },
  );
}
