import { describe, expect, it } from "vitest";
import { extractBlocks } from "../../scripts/check-docs.js";

describe("extractBlocks (the doc check's parser)", () => {
  it("finds ts blocks with their markers and the line of their first code line", () => {
    const md = [
      "# Title", // 1
      "```ts", // 2
      "const a = 1;", // 3
      "```", // 4
      "```sh", // 5
      "```ts not a block: inside sh", // 6
      "```", // 7
      "```ts run", // 8
      "await x;", // 9
      "```", // 10
      "```ts fragment", // 11
      "y;", // 12
      "```", // 13
    ].join("\n");
    const blocks = extractBlocks("docs/x.md", md);
    expect(blocks.map((b) => [b.line, b.marker, b.code])).toEqual([
      [3, "check", "const a = 1;\n"],
      [9, "run", "await x;\n"],
      [12, "fragment", "y;\n"],
    ]);
    expect(new Set(blocks.map((b) => b.file)).size).toBe(3);
  });

  it("refuses an unterminated block, naming where it starts", () => {
    expect(() => extractBlocks("README.md", "text\n```ts\nconst a = 1;\n")).toThrow("README.md:2");
  });
});
