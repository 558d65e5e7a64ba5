/**
 * A logger shape that pino, console and most loggers satisfy. ordersafe logs structured
 * fields first and a message second: `logger.info({ symbol, qty }, "order submitted")`.
 *
 * @remarks
 * Credentials are never logged. The default is {@link silentLogger}.
 */
export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** A logger that drops everything: the default. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
