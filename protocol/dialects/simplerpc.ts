/**
 * The simplerpc dialect (pjsdev/simplerpc), byte-compatible both ways:
 * `OPNAME{json}` lines, each client op answered by exactly one `OKAY{...}` or
 * `FAIL{"reason": ..., "message": ...}`, in order (the wire has no ids), and
 * server pushes that the client never answers.
 *
 * {@linkcode simpleRpc} is the dialect: newline-delimited on byte streams,
 * one message per frame on message wires (a WebSocket, a memory pair). Its
 * codecs keep per-connection state (the order of replies) and differ by side:
 * a {@linkcode Server}'s connections speak the server side, a lone
 * {@linkcode Peer} the client side unless its `role` says otherwise.
 *
 * What crosses the wire, and how:
 *
 * | ours | simplerpc |
 * |---|---|
 * | client `call(op, {…})` | `op{…}` line, resolved by the next `OKAY` (its object) or rejected by `FAIL` |
 * | client `notify(op, {…})` | the same line; the server's `OKAY` is consumed silently (a `FAIL` is logged) |
 * | handler returns an object | `OKAY{…}`; `null`/`undefined` → `OKAY{}`; anything else → `OKAY{"result": …}` |
 * | handler throws `RpcError(code, msg, { reason })` | `FAIL{"reason": reason, "message": msg}` |
 * | handler throws anything else | `FAIL{"reason": "Unknown", "message": "Uknown Server Error"}` (the original's bytes; the error is logged) |
 * | unknown op | `OKAY{}`, as the original answers |
 * | malformed line | `FAIL{"reason": "MalformedPayload", "message": …}`, and the connection keeps working (the original dies) |
 * | server `notify(op, {…})` | `op{…}` pushed, never answered |
 *
 * Params and pushes must be JSON objects; JSON is written as Python's
 * `json.dumps` writes it (`", "`, `": "`, `\uXXXX`).
 *
 * @example A Deno client and server speaking simplerpc on loopback
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { Peer, RemoteError, RpcError, Server } from "@seed/rpc";
 * import { simpleRpc } from "@seed/rpc/simplerpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const server = new Server({
 *   handlers: {
 *     echo: (args) => ({ echo: args }),
 *     fail: () => {
 *       throw new RpcError(-32000, "fail requested", { reason: "BadInput" });
 *     },
 *   },
 *   onConnect: (connection) => connection.peer.notify("welcome", { msg: "hello" }),
 * }).serve(listen("tcp://127.0.0.1:0", { dialect: simpleRpc }));
 * const welcomed = Promise.withResolvers<unknown>();
 * const client = new Peer(await connect(server.addr, { dialect: simpleRpc }), {
 *   handlers: { welcome: (args) => welcomed.resolve(args) },
 * });
 * assertEquals(await welcomed.promise, { msg: "hello" });
 * assertEquals(await client.call("echo", { a: 1 }), { echo: { a: 1 } });
 * const error = await assertRejects(() => client.call("fail", {}), RemoteError);
 * assertEquals([error.message, error.data], ["fail requested", { reason: "BadInput" }]);
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

import type { Codec } from "../wire/codec.ts";
import { DEFAULT_MAX_FRAME_BYTES, type Dialect } from "../wire/dialect.ts";
import { ErrorCode } from "../wire/errors.ts";
import type { ErrorObject, Id, InvalidMessage, Message } from "../wire/message.ts";
import { Fifo } from "../wire/_fifo.ts";
import { MAX_DEPTH, TooDeep, walkJson } from "./_json_walk.ts";
import { pythonJson } from "./_python_json.ts";

/** The reply op for success. */
const OKAY = "OKAY";
/** The reply op for failure. */
const FAIL = "FAIL";
const NOTHING: readonly Message[] = Object.freeze([]);
const NO_FRAMES: readonly string[] = Object.freeze([]);

/** FAIL reasons the original and we use, and the error codes they map to. */
const REASON_CODES: Readonly<Record<string, number>> = {
  MalformedPayload: ErrorCode.InvalidRequest,
  InvalidParams: ErrorCode.InvalidParams,
  Unknown: ErrorCode.InternalError,
  FrameTooLarge: ErrorCode.FrameTooLarge,
  ShuttingDown: ErrorCode.ShuttingDown,
};

/**
 * One simplerpc line, parsed as the original does: the op is everything
 * before the first `{`, the JSON is the rest with whitespace stripped.
 *
 * @example Parsing simplerpc lines
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseSimpleRpcLine } from "@seed/rpc/simplerpc";
 * assertEquals(parseSimpleRpcLine('echo{"a": 1}'), { op: "echo", args: { a: 1 } });
 * assertEquals(parseSimpleRpcLine("echo[1,2]"), { error: "JSON data not found" });
 * ```
 */
export function parseSimpleRpcLine(
  line: string,
): { op: string; args: Record<string, unknown> } | { error: string } {
  const start = line.indexOf("{");
  if (start === -1) return { error: "JSON data not found" };
  const op = line.slice(0, start);
  if (op === "") return { error: "Could not find opcode" };
  let args: Record<string, unknown>;
  try {
    args = JSON.parse(line.slice(start).trim());
  } catch {
    return { error: `JSON malformed for opcode: ${op}` };
  }
  try {
    walkJson(args, MAX_DEPTH);
  } catch (error) {
    if (error instanceof TooDeep) return { error: `${error.message} for opcode: ${op}` };
    throw error;
  }
  return { op, args };
}

/** One simplerpc line: `op` followed by `args` as Python writes JSON. */
function line(op: string, args: unknown): string {
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    throw new TypeError(
      `simplerpc carries a JSON object after the op; '${op}' got ${describe(args)}`,
    );
  }
  if (op.length === 0 || op.includes("{") || /[\r\n]/.test(op)) {
    throw new TypeError(`'${op}' cannot be a simplerpc op (empty, or holds '{' or a line break)`);
  }
  return op + pythonJson(args);
}

function describe(value: unknown): string {
  return Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
}

function malformed(id: Id | null, reason: string, answer: boolean): InvalidMessage {
  return {
    kind: "invalid",
    id,
    error: {
      code: ErrorCode.InvalidRequest,
      message: reason,
      data: { reason: "MalformedPayload" },
    },
    answer,
  };
}

/** The OKAY payload for a handler's result. */
function okayPayload(result: unknown): object {
  if (result === null || result === undefined) return {};
  if (typeof result === "object" && !Array.isArray(result) && !(result instanceof Uint8Array)) {
    return result;
  }
  return { result };
}

/** The reply line for an error, or OKAY{} for an unknown op (as the original answers). */
function failLine(error: ErrorObject): string {
  if (error.code === ErrorCode.MethodNotFound) return `${OKAY}{}`;
  const data = error.data as { reason?: unknown } | null | undefined;
  let reason = typeof data?.reason === "string" ? data.reason : undefined;
  if (reason === undefined) {
    reason = Object.keys(REASON_CODES).find((name) => REASON_CODES[name] === error.code) ??
      "RPCFailureException";
  }
  // An unexpected exception: the original's exact bytes, typo included.
  const message = reason === "Unknown" && typeof data?.reason !== "string"
    ? "Uknown Server Error"
    : error.message;
  return `${FAIL}${pythonJson({ reason, message })}`;
}

/**
 * The server side of simplerpc: every incoming line is a call, numbered in
 * arrival order. Its replies must leave in that order whatever order
 * handlers finish in (`inOrder`): the channel holds a reply that finished
 * early until the ones before it are sent. One per connection:
 * {@linkcode simpleRpc}`.server()` makes it.
 *
 * @example The server's side of simplerpc
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SimpleRpcServerCodec } from "@seed/rpc/simplerpc";
 * const codec = new SimpleRpcServerCodec();
 * assertEquals(codec.decode('echo{"a": 1}'), { kind: "request", id: 1, method: "echo", params: { a: 1 } });
 * assertEquals(codec.encode({ kind: "result", id: 1, result: { a: 1 } }), ['OKAY{"a": 1}']);
 * assertEquals(codec.inOrder, true);
 * ```
 */
export class SimpleRpcServerCodec implements Codec<string> {
  /** `"simplerpc"`. */
  readonly name: string = "simplerpc";
  /** The wire has no ids: replies leave in the order the calls came. */
  readonly inOrder: boolean = true;
  #lastIn = 0;

  /** A reply line, a push, or nothing. */
  encode(message: Message): readonly string[] {
    switch (message.kind) {
      case "result":
        return [`${OKAY}${pythonJson(okayPayload(message.result))}`];
      case "error":
        return [failLine(message.error)];
      case "notification":
        return [line(message.method, message.params ?? {})];
      case "request":
        throw new TypeError(
          "simplerpc clients never answer; notify them instead of calling",
        );
      default:
        return NO_FRAMES;
    }
  }

  /** Every line is a call, numbered in arrival order. */
  decode(frame: string): Message {
    const id = ++this.#lastIn;
    const parsed = parseSimpleRpcLine(frame);
    if ("error" in parsed) return malformed(id, parsed.error, true);
    return { kind: "request", id, method: parsed.op, params: parsed.args };
  }
}

/**
 * The client side of simplerpc: calls are matched to `OKAY`/`FAIL` replies in
 * order; other lines from the server are pushes (notifications). One per
 * connection: {@linkcode simpleRpc}`.client()` makes it.
 *
 * @example The client's side of simplerpc
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SimpleRpcClientCodec } from "@seed/rpc/simplerpc";
 * const codec = new SimpleRpcClientCodec();
 * assertEquals(codec.encode({ kind: "request", id: 7, method: "echo", params: { k: "v" } }), ['echo{"k": "v"}']);
 * assertEquals(codec.decode('OKAY{"echo": {"k": "v"}}'), { kind: "result", id: 7, result: { echo: { k: "v" } } });
 * assertEquals(codec.decode('welcome{"msg": "hello"}'), { kind: "notification", method: "welcome", params: { msg: "hello" } });
 * ```
 */
export class SimpleRpcClientCodec implements Codec<string> {
  /** `"simplerpc"`. */
  readonly name: string = "simplerpc";
  /** Ids of calls awaiting a reply, in order; `null` for a notification's reply. */
  #waiting = new Fifo<Id | null>();

  /** A call or notification line; replies are never sent by a client. */
  encode(message: Message): readonly string[] {
    switch (message.kind) {
      case "request": {
        const text = line(message.method, message.params ?? {});
        this.#waiting.push(message.id);
        return [text];
      }
      case "notification": {
        const text = line(message.method, message.params ?? {});
        this.#waiting.push(null);
        return [text];
      }
      default:
        return NO_FRAMES;
    }
  }

  /** `OKAY`/`FAIL` settle the oldest call; any other op is a push. */
  decode(frame: string): Message | readonly Message[] {
    const parsed = parseSimpleRpcLine(frame);
    if ("error" in parsed) return malformed(null, parsed.error, false);
    const { op, args } = parsed;
    if (op !== OKAY && op !== FAIL) return { kind: "notification", method: op, params: args };
    const id = this.#waiting.shift();
    if (id === undefined) {
      return malformed(null, `${op} arrived with no call waiting for it`, false);
    }
    if (op === OKAY) {
      return id === null ? NOTHING : { kind: "result", id, result: args };
    }
    const reason = typeof args.reason === "string" ? args.reason : "Unknown";
    const message = typeof args.message === "string" ? args.message : String(args.message);
    const error: ErrorObject = {
      code: REASON_CODES[reason] ?? -32000,
      message,
      data: { reason },
    };
    if (id === null) {
      // The server refused a notification: nobody waits for it, so say so.
      return {
        kind: "invalid",
        id: null,
        error: { ...error, message: `a notification failed: ${reason}: ${message}` },
        answer: false,
      };
    }
    return { kind: "error", id, error };
  }
}

/**
 * The simplerpc dialect: newline-delimited on byte streams, a
 * {@linkcode SimpleRpcServerCodec} for each server-side connection and a
 * {@linkcode SimpleRpcClientCodec} for each client.
 *
 * @example The simplerpc dialect
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { simpleRpc } from "@seed/rpc/simplerpc";
 * assertEquals([simpleRpc.name, simpleRpc.delimiter], ["simplerpc", "\n"]);
 * assertEquals(simpleRpc.client().encode({ kind: "notification", method: "hi", params: {} }), ["hi{}"]);
 * ```
 */
export const simpleRpc: Dialect = Object.freeze({
  name: "simplerpc",
  delimiter: "\n",
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  client: (): Codec<string> => new SimpleRpcClientCodec(),
  server: (): Codec<string> => new SimpleRpcServerCodec(),
});
