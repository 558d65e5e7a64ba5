import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IsolatedEmitter, isolateLogger } from "../../src/core/isolation.js";
import type { Logger } from "../../src/core/logger.js";

function recordingLogger() {
  const errors: unknown[][] = [];
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (...a) => errors.push(a) };
  return { logger, errors };
}

class Feed extends IsolatedEmitter<{ tick: [n: number] }> {}

describe("IsolatedEmitter", () => {
  it("calls every listener in order although some throw, and reports each failure", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (throws) => {
        const { logger, errors } = recordingLogger();
        const feed = new Feed(logger);
        const called: number[] = [];
        throws.forEach((t, i) => {
          feed.on("tick", (n) => {
            called.push(i * 100 + n);
            if (t) throw new Error(`listener ${i}`);
          });
        });
        expect(feed.emit("tick", 7)).toBe(true);
        expect(called).toEqual(throws.map((_, i) => i * 100 + 7));
        expect(errors).toHaveLength(throws.filter(Boolean).length);
      }),
    );
  });

  it("removes a once listener before calling it, even when it throws", () => {
    const feed = new Feed();
    let calls = 0;
    feed.once("tick", () => {
      calls++;
      throw new Error("boom");
    });
    feed.emit("tick", 1);
    feed.emit("tick", 2);
    expect(calls).toBe(1);
    expect(feed.listenerCount("tick")).toBe(0);
    expect(feed.emit("tick", 3)).toBe(false);
  });

  it("binds the context given to on() and reports a rejected promise from an async listener", async () => {
    const { logger, errors } = recordingLogger();
    const feed = new Feed(logger);
    const ctx = { seen: 0 };
    feed.on(
      "tick",
      function (this: typeof ctx, n: number) {
        this.seen = n;
      },
      ctx,
    );
    feed.on("tick", async () => {
      throw new Error("async boom");
    });
    feed.emit("tick", 5);
    await new Promise((r) => setImmediate(r));
    expect(ctx.seen).toBe(5);
    expect(JSON.stringify(errors)).toContain("async boom");
  });

  it("a listener removed by an earlier listener during emit is still called this time (snapshot)", () => {
    const feed = new Feed();
    const seen: string[] = [];
    const second = () => seen.push("second");
    feed.on("tick", () => {
      seen.push("first");
      feed.off("tick", second);
    });
    feed.on("tick", second);
    feed.emit("tick", 1);
    feed.emit("tick", 2);
    expect(seen).toEqual(["first", "second", "first"]);
  });
});

describe("isolateLogger", () => {
  it("never throws, whatever the logger's methods do", () => {
    const hostile = {
      debug() {
        throw new Error("x");
      },
      info: async () => {
        throw new Error("y");
      },
      warn: undefined,
      error: null,
    };
    // @ts-expect-error a logger missing methods, as a careless caller might pass
    const log = isolateLogger(hostile);
    expect(() => {
      log.debug("a");
      log.info("b");
      log.warn("c");
      log.error("d");
    }).not.toThrow();
  });

  it("passes the arguments through with the logger as this", () => {
    const seen: unknown[] = [];
    const logger = {
      prefix: "p",
      debug() {},
      info(this: { prefix: string }, ...a: unknown[]) {
        seen.push(this.prefix, ...a);
      },
      warn() {},
      error() {},
    };
    isolateLogger(logger).info({ a: 1 }, "msg");
    expect(seen).toEqual(["p", { a: 1 }, "msg"]);
  });
});
