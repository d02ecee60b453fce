/**
 * `rpc serve`: the demo API, or a module's exported functions, on a URL,
 * until SIGINT or SIGTERM.
 *
 * @module
 */

import { type Handler, type Listener, Server } from "../mod.ts";
import { listen as listenTcp, listenUnix } from "../transports/tcp.ts";
import { listen as listenWebSocket } from "../transports/websocket_server.ts";
import { listen as listenMushroom } from "../transports/mushroom_server.ts";
import { listen as listenHttp } from "../transports/http.ts";
import { type QuickRpcApi, quickRpcApi } from "../transports/quickrpc.ts";
import {
  dialectOf,
  fileUrl,
  hostsOf,
  isQuickRpcTransport,
  modeFlag,
  numberFlag,
  originsOf,
  readPem,
  throwUsage,
  urlOf,
  UsageError,
} from "./args.ts";
import { DemoApi, demoHandlers } from "./demo_api.ts";
import type { ParsedArgs } from "./parse_args.ts";
import { cliLogger, ExitStatus, oneLine, redactUrls } from "./report.ts";
import { VERSION } from "./usage.ts";
import { framingFlag, serveOverStdio } from "./stdio.ts";

/** What `rpc serve` writes, and what stops it. */
export interface ServeIo {
  stdout(line: string): void;
  stderr(line: string): void;
  /** Resolves with why the server should stop. */
  stop: Promise<string>;
}

/** What a `--handlers` module offers: functions to serve, and maybe a description. */
interface Served {
  handlers: Record<string, Handler>;
  discover: unknown;
}

async function loadHandlers(path: string): Promise<Served> {
  let module: Record<string, unknown>;
  try {
    module = await import(fileUrl(path).href);
  } catch (error) {
    throw new UsageError(`cannot load handlers from '${path}': ${(error as Error).message}`);
  }
  const source = module.default !== null && typeof module.default === "object"
    ? module.default as Record<string, unknown>
    : module;
  const handlers: Record<string, Handler> = {};
  for (const [name, value] of Object.entries(source)) {
    if (typeof value === "function") handlers[name] = value as Handler;
  }
  if (Object.keys(handlers).length === 0) {
    throw new UsageError(`'${path}' exports no functions to serve`);
  }
  const discover = source.discover !== null && typeof source.discover === "object"
    ? source.discover
    : undefined;
  return { handlers, discover };
}

/** Runs `rpc serve` until `io.stop` resolves. */
export async function serve(flags: ParsedArgs, io: ServeIo): Promise<number> {
  if (flags._.length > 1) throw new UsageError(`unexpected argument '${flags._[1]}'`);
  const url = urlOf(flags._[0], "listen");
  const dialect = dialectOf(flags, url);
  const idleTimeout = numberFlag(flags, "idle-timeout", 300_000, 0);
  const maxConnections = numberFlag(flags, "max-connections", 10_000, 1);
  const origins = originsOf(flags, url);
  const hosts = hostsOf(flags, url);
  const mode = modeFlag(flags, url);
  const served: Served = flags.handlers === undefined
    ? {
      handlers: demoHandlers((line) => io.stderr(line)),
      discover: DemoApi.openrpc({ version: VERSION }),
    }
    : await loadHandlers(String(flags.handlers));
  const scheme = url.slice(0, url.indexOf(":"));
  const needsKeys = () => throwUsage(`${scheme}:// needs --cert and --key`);
  const tls = scheme === "tls" || scheme === "wss" || scheme === "https"
    ? {
      cert: await readPem(flags.cert ?? needsKeys(), "--cert"),
      key: await readPem(flags.key ?? needsKeys(), "--key"),
    }
    : {};
  const logger = cliLogger({ stderr: io.stderr, json: false });
  framingFlag(flags, url);
  if (url === "stdio:") {
    // stdout carries the frames: everything else goes to stderr.
    const server = new Server({
      handlers: served.handlers,
      peer: { discover: served.discover },
      logger,
    });
    io.stderr("serving on stdio");
    const why = await serveOverStdio(server, flags, io.stop);
    io.stderr(`${why}: shutting down`);
    await server.shutdown({ deadline: 5000, reason: `server stopped (${why})` });
    return ExitStatus.Ok;
  }
  if (isQuickRpcTransport(url)) return await serveQuickRpc(url, served, logger, io);
  let listener: Listener<string>;
  try {
    listener = dialect === "mushroom"
      ? listenMushroom(url, { logger, origins, hosts, ...tls })
      : scheme === "http" || scheme === "https"
      ? listenHttp(url, { logger, origins, hosts, ...tls })
      : scheme === "ws" || scheme === "wss"
      ? listenWebSocket(url, { dialect, logger, origins, hosts, ...tls })
      : scheme === "unix"
      ? await listenUnix(url, { dialect, logger, mode })
      : listenTcp(url, { dialect, logger, ...tls });
  } catch (error) {
    const message = `cannot listen on ${url}: ${(error as Error).message}`;
    io.stderr(`rpc serve: ${oneLine(redactUrls(message))}`);
    return ExitStatus.Usage;
  }
  const server = new Server({
    handlers: served.handlers,
    peer: { discover: served.discover },
    logger,
    idleTimeout,
    maxConnections,
  }).serve(listener);
  io.stdout(`listening on ${redactUrls(server.addr)}`);
  const why = await io.stop;
  io.stderr(`${why}: shutting down`);
  await server.shutdown({ deadline: 5000, reason: `server stopped (${why})` });
  return ExitStatus.Ok;
}

/** `rpc serve` on a quickrpc many-peer transport (`udp:`, `mux:`, `restart:`, `internal:`). */
async function serveQuickRpc(
  url: string,
  served: Served,
  logger: ReturnType<typeof cliLogger>,
  io: ServeIo,
): Promise<number> {
  let api: QuickRpcApi;
  try {
    api = await quickRpcApi({
      transport: url,
      handlers: served.handlers,
      discover: served.discover,
      logger,
    });
  } catch (error) {
    io.stderr(`rpc serve: ${oneLine(`cannot open ${url}: ${(error as Error).message}`)}`);
    return ExitStatus.Usage;
  }
  io.stdout(`listening on ${url}`);
  const why = await Promise.race([io.stop, api.peer.closed.then(() => "transport closed")]);
  io.stderr(`${why}: shutting down`);
  await api.close();
  return ExitStatus.Ok;
}
