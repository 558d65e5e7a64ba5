import { createHash } from "node:crypto";
import { isValidationError, OrdersafeError } from "../core/errors.js";
import { JOURNAL_ENTRY_VERSION, type JournalEntry, parseJournalEntry } from "./journal-entry.js";
import type { RunIndex } from "./run-index.js";

// The journal file format (docs/journal.md): one JSON object per line,
//   {"header":{"format":"ordersafe-journal","version":1,"account":"PA123"},"check":"<16 hex>"}
//   {"entry":{...},"check":"<16 hex>"}
// where "check" is the first 16 hex digits of the SHA-256 of the exact bytes between the
// opening key and `,"check"`. The header is the first line. A line counts once its "\n" is
// written: the writer writes each batch, newlines included, in one write call.

/** The `format` a journal file's header names. */
export const JOURNAL_FILE_FORMAT = "ordersafe-journal";
/** The version of the file format. */
export const JOURNAL_FILE_VERSION = 1;

const ENTRY_OPEN = Buffer.from('{"entry":');
const HEADER_OPEN = Buffer.from('{"header":');
const CHECK_KEY = ',"check":"';
const CHECK_HEX = 16;
/** `,"check":"` + 16 hex digits + `"}` */
const CHECK_TAIL = CHECK_KEY.length + CHECK_HEX + 2;
const NEWLINE = 0x0a;

/**
 * The checksum of a line's content: the first 16 hex digits (64 bits) of its SHA-256.
 *
 * @param bytes - the content's bytes
 * @returns 16 lowercase hex digits
 */
export function lineChecksum(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, CHECK_HEX);
}

function line(key: "entry" | "header", json: string): string {
  return `{"${key}":${json}${CHECK_KEY}${lineChecksum(Buffer.from(json, "utf8"))}"}\n`;
}

/**
 * Encodes entries as journal lines, newlines included, ready for one write.
 *
 * @param entries - parsed entries
 * @returns the bytes
 */
export function encodeEntries(entries: readonly JournalEntry[]): Buffer {
  let text = "";
  for (const e of entries) text += line("entry", JSON.stringify(e));
  return Buffer.from(text, "utf8");
}

/**
 * Encodes the header line of an account's journal file.
 *
 * @param account - the account
 * @returns the bytes
 */
export function encodeHeader(account: string): Buffer {
  const header = { format: JOURNAL_FILE_FORMAT, version: JOURNAL_FILE_VERSION, account };
  return Buffer.from(line("header", JSON.stringify(header)), "utf8");
}

/** One complete entry line of a scanned file. */
export interface ScannedLine {
  /** Byte offset of the line. */
  readonly offset: number;
  /** Its length in bytes, newline included. */
  readonly length: number;
  /** The entry. */
  readonly entry: JournalEntry;
}

/** What {@link scanJournal} found. */
export interface ScanResult {
  /** Whether the file starts with a complete header (false for an empty file or a torn header). */
  readonly hasHeader: boolean;
  /** The entry lines, in order. */
  readonly lines: readonly ScannedLine[];
  /** The offset just past the last complete line: where the next line goes. */
  readonly end: number;
  /** The torn last line, when the file ends in one. */
  readonly torn: { readonly offset: number; readonly length: number } | undefined;
}

type Checked = { ok: true; key: "entry" | "header"; json: string } | { ok: false; reason: string };

function startsWith(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  return (
    end - start >= prefix.length && buf.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0
  );
}

/** Checks one line's framing and checksum (bytes [start, end), newline excluded). */
function checkLine(buf: Buffer, start: number, end: number): Checked {
  const open = startsWith(buf, start, end, ENTRY_OPEN)
    ? ENTRY_OPEN
    : startsWith(buf, start, end, HEADER_OPEN)
      ? HEADER_OPEN
      : undefined;
  if (open === undefined || end - start < open.length + CHECK_TAIL)
    return { ok: false, reason: "not a journal line" };
  const tail = buf.toString("latin1", end - CHECK_TAIL, end);
  const hex = tail.slice(CHECK_KEY.length, CHECK_KEY.length + CHECK_HEX);
  if (!tail.startsWith(CHECK_KEY) || !tail.endsWith('"}') || !/^[0-9a-f]{16}$/.test(hex)) {
    return { ok: false, reason: "no checksum" };
  }
  const content = buf.subarray(start + open.length, end - CHECK_TAIL);
  if (lineChecksum(content) !== hex) return { ok: false, reason: "checksum mismatch" };
  return { ok: true, key: open === ENTRY_OPEN ? "entry" : "header", json: content.toString("utf8") };
}

/**
 * Reads a journal file's bytes: checks every line, replays the entries through the run
 * rules, and finds a torn last line.
 *
 * @remarks
 * The last line is torn when it has no newline, or when it fails its framing or checksum: a
 * crash in the middle of a write leaves exactly that, and the entries before it are intact.
 * Any other line that fails is corruption, never skipped. A line whose checksum holds but
 * whose content breaks the schema or the run rules is corruption too, wherever it is.
 *
 * @param buf - the file's bytes
 * @param account - the account the file must belong to
 * @param index - an empty index, filled with the file's runs
 * @param path - the file's path, for messages
 * @returns the lines, where the next line goes, and the torn tail if any
 * @throws OrdersafeError (`journal_corrupt`) naming the line, its offset and what is wrong
 */
export function scanJournal(buf: Buffer, account: string, index: RunIndex, path: string): ScanResult {
  const corrupt = (lineNo: number, offset: number, reason: string, cause?: unknown) =>
    new OrdersafeError("journal_corrupt", `journal ${path}: line ${lineNo} (byte ${offset}): ${reason}`, {
      details: { path, account, line: lineNo, offset, reason },
      cause,
    });
  const lines: ScannedLine[] = [];
  let hasHeader = false;
  let pos = 0;
  let lineNo = 0;
  while (pos < buf.length) {
    lineNo++;
    const nl = buf.indexOf(NEWLINE, pos);
    const end = nl === -1 ? buf.length : nl;
    const next = nl === -1 ? buf.length : nl + 1;
    const last = next >= buf.length;
    if (nl === -1) return { hasHeader, lines, end: pos, torn: { offset: pos, length: buf.length - pos } };
    const checked = checkLine(buf, pos, end);
    if (!checked.ok) {
      if (last) return { hasHeader, lines, end: pos, torn: { offset: pos, length: buf.length - pos } };
      throw corrupt(lineNo, pos, checked.reason);
    }
    let value: unknown;
    try {
      value = JSON.parse(checked.json);
    } catch (e) {
      throw corrupt(lineNo, pos, "not JSON", e);
    }
    if (!hasHeader) {
      if (checked.key !== "header")
        throw corrupt(lineNo, pos, "the file does not start with a journal header");
      const h = value as { format?: unknown; version?: unknown; account?: unknown };
      if (h.format !== JOURNAL_FILE_FORMAT) throw corrupt(lineNo, pos, "not an ordersafe journal");
      if (h.version !== JOURNAL_FILE_VERSION)
        throw corrupt(lineNo, pos, `file format version ${String(h.version)} is not ${JOURNAL_FILE_VERSION}`);
      if (h.account !== account)
        throw corrupt(lineNo, pos, `the file belongs to account ${JSON.stringify(h.account)}`);
      hasHeader = true;
    } else {
      if (checked.key !== "entry") throw corrupt(lineNo, pos, "a second header");
      const entry = parseStored(value, (reason, cause) => corrupt(lineNo, pos, reason, cause));
      const violation = index.check([entry]);
      if (violation !== undefined) throw corrupt(lineNo, pos, `run ${violation.runId}: ${violation.reason}`);
      index.apply([entry]);
      lines.push({ offset: pos, length: next - pos, entry });
    }
    pos = next;
  }
  return { hasHeader, lines, end: pos, torn: undefined };
}

function parseStored(
  value: unknown,
  corrupt: (reason: string, cause?: unknown) => OrdersafeError,
): JournalEntry {
  const v = (value as { v?: unknown } | null)?.v;
  if (typeof v === "number" && v > JOURNAL_ENTRY_VERSION) {
    throw corrupt(`entry version ${v} is newer than this library reads (${JOURNAL_ENTRY_VERSION})`);
  }
  try {
    return parseJournalEntry(value);
  } catch (e) {
    if (isValidationError(e)) throw corrupt(`malformed entry: ${e.message}`, e);
    throw e;
  }
}
