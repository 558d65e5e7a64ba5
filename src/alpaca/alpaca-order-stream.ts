import { streaming } from "@alpacahq/alpaca-trade-api";
import type { OrderUpdate, OrderUpdateListener, StreamStatus, Subscription } from "../broker/broker-port.js";
import type { Logger } from "../core/logger.js";
import { mapAlpacaTradeUpdate } from "./alpaca-mapping.js";
import type { AlpacaCredentials } from "./alpaca-options.js";

/** Reconnect and keep-alive settings of the trade-updates stream (passed to the SDK's `TradingStream`). */
export interface AlpacaStreamSettings {
  /** First reconnect delay, ms. */
  initialReconnectMs: number;
  /** Longest reconnect delay, ms. */
  maxReconnectMs: number;
  /** Reconnect attempts before giving up; -1 = forever. */
  maxReconnectAttempts: number;
  /** Jitter fraction of each reconnect delay. */
  reconnectJitter: number;
  /** Keep-alive ping interval, ms; 0 = no pings. */
  pingIntervalMs: number;
  /** How long to wait for a pong, ms. */
  pongWaitMs: number;
}

interface StreamHubOptions {
  url: string;
  credentials: AlpacaCredentials;
  settings: AlpacaStreamSettings;
  logger: Logger;
}

/**
 * The SDK's `TradingStream` authenticated by an OAuth token: Alpaca's trading stream takes
 * `{"action":"authenticate","data":{"oauth_token":"…"}}` in place of the key pair (the SDK
 * itself only sends keys, so the authenticate frame is the one thing replaced).
 */
class OAuthTradingStream extends streaming.TradingStream {
  private readonly token: string;

  constructor(token: string, options: Omit<streaming.TradingStreamOptions, "credentials">) {
    // The SDK requires a key pair it never sends here: sendAuth below replaces its frame.
    super({ ...options, credentials: { keyId: "oauth", secret: "oauth" } });
    this.token = token;
  }

  protected override sendAuth(): void {
    this.send({ action: "authenticate", data: { oauth_token: this.token } });
  }
}

/**
 * One `TradingStream` connection shared by every subscriber: Alpaca allows one trade-updates
 * connection per key. Opened by the first subscription, closed with the last.
 *
 * @remarks
 * `subscribeTradeUpdates()` is called before `connect()`, so the SDK sends exactly one
 * `listen` per (re)connection. `connected` is reported when the server acknowledges the
 * listen (updates flow from then on), `disconnected` when the socket closes, `reconnecting`
 * before each reconnect attempt. Nothing is replayed after a reconnect: subscribers re-read
 * by REST.
 */
export class AlpacaOrderStream {
  private stream: streaming.TradingStream | undefined;
  private readonly listeners = new Set<OrderUpdateListener>();
  private status: StreamStatus = "disconnected";

  constructor(private readonly options: StreamHubOptions) {}

  /**
   * Adds a listener, connecting when it is the first.
   *
   * @param listener - receives updates and connection changes
   * @returns the subscription
   */
  subscribe(listener: OrderUpdateListener): Subscription {
    this.listeners.add(listener);
    let closed = false;
    if (this.stream === undefined) {
      this.open();
    } else {
      const current = this.status;
      queueMicrotask(() => {
        if (!closed && this.listeners.has(listener)) this.tell(listener, current);
      });
    }
    return {
      close: () => {
        if (closed) return;
        closed = true;
        this.listeners.delete(listener);
        if (this.listeners.size === 0) this.shutdown();
      },
    };
  }

  private open(): void {
    const stream = this.createStream();
    this.stream = stream;
    this.followConnection(stream);
    this.deliverUpdates(stream);
    stream.subscribeTradeUpdates();
    // Connect after subscribe() returns, so no callback runs inside it.
    queueMicrotask(() => {
      if (this.stream === stream) stream.connect();
    });
  }

  private createStream(): streaming.TradingStream {
    const { url, credentials, settings } = this.options;
    const options = {
      url,
      reconnect: true,
      maxReconnectAttempts: settings.maxReconnectAttempts,
      initialReconnectMs: settings.initialReconnectMs,
      maxReconnectMs: settings.maxReconnectMs,
      reconnectJitter: settings.reconnectJitter,
      pingIntervalMs: settings.pingIntervalMs,
      pongWaitMs: settings.pongWaitMs,
      verbose: false,
    };
    return credentials.kind === "keys"
      ? new streaming.TradingStream({
          ...options,
          credentials: { keyId: credentials.keyId, secret: credentials.secret },
        })
      : new OAuthTradingStream(credentials.token, options);
  }

  /** Turns the SDK's connection events into `connecting`, `connected`, `disconnected`, `reconnecting`. */
  private followConnection(stream: streaming.TradingStream): void {
    const { logger } = this.options;
    // Between a reconnect attempt and the server's listen acknowledgement, the SDK's
    // `connecting` is part of `reconnecting`.
    let reconnecting = false;
    stream.onStateChange((state) => {
      if (this.stream !== stream) return;
      if (state === streaming.STATE.CONNECTING && !reconnecting) this.setStatus("connecting");
      else if (state === streaming.STATE.DISCONNECTED) this.setStatus("disconnected");
    });
    stream.onReconnecting((attempt) => {
      if (this.stream !== stream) return;
      reconnecting = true;
      logger.info({ attempt }, "[ordersafe/alpaca] trade updates stream reconnecting");
      this.setStatus("reconnecting");
    });
    stream.on(streaming.EVENT.SUBSCRIPTION, (streams: unknown) => {
      if (this.stream !== stream) return;
      if (Array.isArray(streams) && streams.includes("trade_updates")) {
        reconnecting = false;
        this.setStatus("connected");
      }
    });
    stream.onError((message) => {
      if (this.stream !== stream) return;
      logger.warn({ error: message }, "[ordersafe/alpaca] trade updates stream error");
    });
  }

  /** Maps each trade update and hands it to every listener; a malformed one is dropped and logged. */
  private deliverUpdates(stream: streaming.TradingStream): void {
    const { logger } = this.options;
    stream.onTradeUpdate((raw) => {
      if (this.stream !== stream) return;
      let update: OrderUpdate;
      try {
        update = mapAlpacaTradeUpdate(raw);
      } catch (error) {
        logger.warn({ error }, "[ordersafe/alpaca] dropped a malformed trade update");
        return;
      }
      for (const l of [...this.listeners]) {
        try {
          l.onUpdate(update);
        } catch (error) {
          logger.error({ error }, "[ordersafe/alpaca] an order update listener threw");
        }
      }
    });
  }

  private shutdown(): void {
    const stream = this.stream;
    this.stream = undefined;
    this.status = "disconnected";
    stream?.disconnect();
    stream?.removeAllListeners();
  }

  private setStatus(status: StreamStatus): void {
    if (this.status === status) return;
    this.status = status;
    for (const l of [...this.listeners]) this.tell(l, status);
  }

  private tell(listener: OrderUpdateListener, status: StreamStatus): void {
    try {
      listener.onStatus?.(status);
    } catch (error) {
      this.options.logger.error({ error }, "[ordersafe/alpaca] an order status listener threw");
    }
  }
}
