import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket, WebSocketServer } from "ws";

// The trade-updates WebSocket of the fake Alpaca server (facts section 4): `authenticate` is
// answered `authorized` or `unauthorized`, every `listen` is acknowledged, nothing is replayed.

/** One connection to `/stream`. */
interface StreamClient {
  readonly ws: WebSocket;
  authed: boolean;
  listening: boolean;
}

/** A stream message as received: whatever JSON the client sent. */
interface StreamMessage {
  action?: unknown;
  data?: { [key: string]: unknown } | null;
}

/** Checks the `data` of an `authenticate` message. */
type AuthCheck = (data: { [key: string]: unknown } | null | undefined) => boolean;

/** The trade-updates stream of a running server. */
export interface TradeStream {
  /** Sends a frame to every client that authenticated and listens to `trade_updates`. */
  broadcast(frame: string | Buffer): void;
  /** Closes every connection now (clients reconnect). */
  dropAll(): void;
  /** How many clients authenticated and listen. */
  listeners(): number;
  /** Closes every connection and stops taking new ones. */
  close(): void;
}

/**
 * Serves the trade-updates stream at `/stream` on the server's upgrade requests.
 *
 * @param server - the HTTP server
 * @param wss - a `ws` server in `noServer` mode
 * @param isValidAuth - checks the data of a client's `authenticate` (key pair or OAuth token)
 * @returns the stream
 */
export function attachTradeStream(server: Server, wss: WebSocketServer, isValidAuth: AuthCheck): TradeStream {
  const clients = new Set<StreamClient>();
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/stream") {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const client: StreamClient = { ws, authed: false, listening: false };
      clients.add(client);
      ws.on("close", () => clients.delete(client));
      ws.on("error", () => clients.delete(client));
      ws.on("message", (data) => onMessage(client, String(data), isValidAuth));
    });
  });
  const dropAll = () => {
    for (const c of [...clients]) {
      clients.delete(c);
      c.ws.terminate();
    }
  };
  return {
    broadcast(frame) {
      for (const c of clients) if (c.authed && c.listening) c.ws.send(frame);
    },
    dropAll,
    listeners: () => [...clients].filter((c) => c.authed && c.listening).length,
    close() {
      dropAll();
      wss.close();
    },
  };
}

function onMessage(client: StreamClient, text: string, isValidAuth: AuthCheck): void {
  let msg: StreamMessage;
  try {
    msg = JSON.parse(text);
  } catch {
    send(client, { action: "error", data: { error_message: "invalid syntax" } });
    return;
  }
  if (msg.action === "authenticate") authenticate(client, msg, isValidAuth);
  else if (msg.action === "listen") listen(client, msg);
  else send(client, { action: "error", data: { error_message: "unknown action" } });
}

function authenticate(client: StreamClient, msg: StreamMessage, isValidAuth: AuthCheck): void {
  const ok = isValidAuth(msg.data);
  client.authed = ok;
  send(client, {
    stream: "authorization",
    data: ok
      ? { status: "authorized", action: "authenticate" }
      : { status: "unauthorized", action: "authenticate", message: "access key verification failed" },
  });
}

function listen(client: StreamClient, msg: StreamMessage): void {
  if (!client.authed) {
    send(client, { stream: "authorization", data: { status: "unauthorized", action: "listen" } });
    return;
  }
  const streams = msg.data?.streams;
  client.listening = Array.isArray(streams) && streams.includes("trade_updates");
  send(client, { stream: "listening", data: { streams: client.listening ? ["trade_updates"] : [] } });
}

function send(client: StreamClient, message: unknown): void {
  client.ws.send(JSON.stringify(message));
}
