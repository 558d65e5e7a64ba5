import { createInterface, type Interface } from "node:readline";
import type { Readable } from "node:stream";

/** Asks yes/no questions on a terminal, one at a time. */
export interface Prompter {
  /** Asks; resolves true only for an answer starting with `y` or `Y`. */
  confirm(question: string): Promise<boolean>;
  /** Stops reading. */
  close(): void;
}

/**
 * Asks on `input` (a terminal), writing the questions to `output`. An end of input answers no.
 *
 * @param input - where answers come from
 * @param output - where questions go
 * @returns the prompter
 */
export function createPrompter(input: Readable, output: { write(text: string): unknown }): Prompter {
  let rl: Interface | undefined;
  let closed = false;
  const open = (): Interface => {
    if (rl === undefined) {
      rl = createInterface({ input, terminal: false });
      rl.on("close", () => {
        closed = true;
      });
    }
    return rl;
  };
  return {
    confirm(question) {
      if (closed) return Promise.resolve(false);
      const r = open();
      output.write(`${question} [y/N] `);
      return new Promise((resolve) => {
        const onLine = (line: string) => {
          r.off("close", onClose);
          resolve(/^\s*y/i.test(line));
        };
        const onClose = () => {
          r.off("line", onLine);
          output.write("\n");
          resolve(false);
        };
        r.once("line", onLine);
        r.once("close", onClose);
      });
    },
    close() {
      rl?.close();
    },
  };
}
