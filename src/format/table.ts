/** How a column's cells line up: text to the left, numbers to the right. */
export const COLUMN_ALIGNS = ["left", "right"] as const;
/** One of {@link COLUMN_ALIGNS}. */
export type ColumnAlign = (typeof COLUMN_ALIGNS)[number];

/** A column of {@link formatTable}. */
export interface TableColumn {
  /** The header. */
  header: string;
  /** Alignment. @defaultValue "left" */
  align?: ColumnAlign;
}

/**
 * Lays rows out as a plain-text table: a header, a rule of dashes, then one line per row,
 * columns two spaces apart, trailing spaces trimmed.
 *
 * @param columns - the columns, in order
 * @param rows - the cells, one array per row (a missing cell is empty)
 * @returns the table, lines joined by `\n` (no final newline)
 * @example
 * ```ts
 * formatTable([{ header: "symbol" }, { header: "value", align: "right" }], [["SPY", "$1,000.00"]]);
 * ```
 */
export function formatTable(columns: readonly TableColumn[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? "";
        const w = widths[i] ?? 0;
        return c.align === "right" ? cell.padStart(w) : cell.padEnd(w);
      })
      .join("  ")
      .trimEnd();
  return [
    line(columns.map((c) => c.header)),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(line),
  ].join("\n");
}
