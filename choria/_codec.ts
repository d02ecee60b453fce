/**
 * The Choria External codec: the only place a request file becomes a
 * {@linkcode Message} and a reply {@linkcode Message} becomes the reply
 * file. One codec reads one invocation, so it remembers whether it was an
 * activation check (answered `{"activate": bool}`) or an RPC request.
 *
 * A valid RPC request decodes to a request whose method is the action,
 * whose params are the inputs (`data`), whose id is the `requestid`, and
 * whose meta carries the caller (`sender`, the `callerid`) and the whole
 * file (`request`). An activation request decodes to
 * {@linkcode ACTIVATE_METHOD}, which no action can be named (actions match
 * `^[a-z0-9_]*$`). A file that is not JSON, breaks its schema or names
 * another protocol decodes to an `invalid` message, answered through
 * dispatch like any wire's junk.
 *
 * The shared error model onto Choria's reply, in one place (`statusmsg` is
 * always the error's message). The agent's own refusals are Choria statuses
 * already: inactive 1, unknown action 2, the DDL's missing and invalid
 * inputs 3 and 4, an action's exception 5; JSON-RPC's codes are negative.
 *
 * | error `code`                                  | `statuscode`    | `data`                             |
 * | --------------------------------------------- | --------------- | ---------------------------------- |
 * | 0 or more (`ActionFailure`, `ctx.fail`, ...)  | the code itself | the error's `data` object, else {} |
 * | -32601 Method not found                       | 2 UnknownAction | {}                                 |
 * | -32602 Invalid params (a contract's check)    | 4 InvalidData   | {}                                 |
 * | -32002 Shutting down                          | 1 Aborted       | {}                                 |
 * | any other (a bad request file, an exception)  | 5 UnknownError  | {}                                 |
 *
 * An activation check answers `{"activate": true}` only for a result of
 * `true`; any error answers `{"activate": false}`.
 *
 * @module
 */

import { type Codec, ErrorCode, type ErrorObject, formatIssues, type Message } from "./_core.ts";
import type { AgentLog } from "./log.ts";
import { ACTIVATION_REQUEST, RPC_REQUEST, type RpcReply, StatusCode } from "./protocol.ts";
import { choriaSchema } from "./schemas.ts";

/** The method an activation request decodes to. */
export const ACTIVATE_METHOD = "choria.activate";

/** Reads one request file and writes its one reply. */
export class ChoriaCodec implements Codec<string> {
  /** For logs. */
  readonly name = "choria";
  #protocol: string | undefined;
  #log: AgentLog;
  #activation = false;

  /**
   * @param protocol `$CHORIA_EXTERNAL_PROTOCOL`, which wins over the file's own.
   * @param log Where problems with the request file are logged.
   */
  constructor(protocol: string | undefined, log: AgentLog) {
    this.#protocol = protocol;
    this.#log = log;
  }

  /** Whether the file read was an activation request. */
  get activation(): boolean {
    return this.#activation;
  }

  /** The request file's text as one message. */
  decode(text: string): Message {
    const log = this.#log;
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch (error) {
      request = undefined;
      log.error(`the request is not JSON: ${(error as Error).message}`);
    }
    const protocol = this.#protocol || (request as { protocol?: unknown } | undefined)?.protocol;
    if (protocol === ACTIVATION_REQUEST) {
      this.#activation = true;
      const issues = choriaSchema(ACTIVATION_REQUEST)(request);
      if (issues !== undefined) {
        log.error(`invalid activation request: ${formatIssues(issues)}`);
        return invalid(ErrorCode.InvalidRequest, "Invalid activation request");
      }
      return { kind: "request", id: 0, method: ACTIVATE_METHOD, meta: { request } };
    }
    if (protocol !== RPC_REQUEST && protocol !== undefined) {
      log.error(`unsupported protocol '${protocol}'`);
      return invalid(ErrorCode.InvalidRequest, `Unsupported protocol '${protocol}'`);
    }
    if (request === undefined) {
      return invalid(ErrorCode.ParseError, "Invalid request: the request file is not JSON");
    }
    const issues = choriaSchema(RPC_REQUEST)(request);
    if (issues !== undefined) {
      log.error(`invalid request: ${formatIssues(issues)}`);
      return invalid(ErrorCode.InvalidRequest, `Invalid request: ${formatIssues(issues)}`);
    }
    const rpc = request as { action: string; requestid: string; callerid: string; data: unknown };
    return {
      kind: "request",
      id: rpc.requestid,
      method: rpc.action,
      params: rpc.data,
      meta: { sender: rpc.callerid, request },
    };
  }

  /** The reply file's text for a result or an error; nothing for any other kind. */
  encode(message: Message): readonly string[] {
    if (message.kind === "result") {
      if (this.#activation) return [JSON.stringify({ activate: message.result === true })];
      return [JSON.stringify(reply(StatusCode.OK, "OK", message.result))];
    }
    if (message.kind === "error") {
      if (this.#activation) return ['{"activate":false}'];
      return [JSON.stringify(errorReply(message.error))];
    }
    return [];
  }
}

function invalid(code: number, message: string): Message {
  return { kind: "invalid", id: null, error: { code, message }, answer: true };
}

function reply(statuscode: number, statusmsg: string, data: unknown): RpcReply {
  const object = data !== null && typeof data === "object" && !Array.isArray(data);
  return { statuscode, statusmsg, data: object ? data as Record<string, unknown> : {} };
}

/** The shared error model onto Choria's status codes (the table above). */
function errorReply(error: ErrorObject): RpcReply {
  const code = error.code;
  if (code >= 0) return reply(code, error.message, error.data);
  const status = code === ErrorCode.MethodNotFound
    ? StatusCode.UnknownAction
    : code === ErrorCode.InvalidParams
    ? StatusCode.InvalidData
    : code === ErrorCode.ShuttingDown
    ? StatusCode.Aborted
    : StatusCode.UnknownError;
  return reply(status, error.message, undefined);
}
