/**
 * The Choria External protocol: its ids, status codes, the shapes of its
 * request and reply files, and JSON written as Go writes it.
 *
 * @module
 */

/** The protocol of an RPC request file. */
export const RPC_REQUEST = "io.choria.mcorpc.external.v1.rpc_request";
/** The protocol of an activation request file. */
export const ACTIVATION_REQUEST = "io.choria.mcorpc.external.v1.activation_request";
/** The protocol of a discovery request file. */
export const DISCOVERY_REQUEST = "io.choria.choria.discovery.v1.external_request";
/** The protocol a discovery reply must carry. */
export const DISCOVERY_REPLY = "io.choria.choria.discovery.v1.external_reply";

/** The `$schema` URL of each request. */
export const SCHEMA_URLS: Readonly<Record<string, string>> = {
  [RPC_REQUEST]: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
  [ACTIVATION_REQUEST]: "https://choria.io/schemas/mcorpc/external/v1/activation_request.json",
  [DISCOVERY_REQUEST]: "https://choria.io/schemas/choria/discovery/v1/external_request.json",
};

/**
 * Choria's reply status codes.
 */
export const StatusCode = {
  /** Success. */
  OK: 0,
  /** Input fine, action exists, but it could not complete. */
  Aborted: 1,
  /** No such action. */
  UnknownAction: 2,
  /** A required input is missing. */
  MissingData: 3,
  /** An input is invalid. */
  InvalidData: 4,
  /** Any other error. */
  UnknownError: 5,
} as const;

/**
 * An RPC request file, as Choria writes it.
 */
export interface RpcRequest {
  /** The schema URL. */
  $schema: string;
  /** {@linkcode RPC_REQUEST}. */
  protocol: string;
  /** The agent's name. */
  agent: string;
  /** The action's name. */
  action: string;
  /** A unique id for the request. */
  requestid: string;
  /** The node that sent it. */
  senderid: string;
  /** The verified caller (`choria=rip.mcollective`). */
  callerid: string;
  /** The sub-collective it targets. */
  collective: string;
  /** Seconds the message is valid for. */
  ttl: number;
  /** When it was made, in Unix seconds. */
  msgtime: number;
  /** The inputs. */
  data: Record<string, unknown>;
}

/**
 * An activation request file.
 */
export interface ActivationRequest {
  /** The schema URL. */
  $schema: string;
  /** {@linkcode ACTIVATION_REQUEST}. */
  protocol: string;
  /** The agent's name. */
  agent: string;
}

/**
 * An RPC reply, as an agent writes it and Choria reads it.
 */
export interface RpcReply {
  /** 0 to 5; see {@linkcode StatusCode}. */
  statuscode: number;
  /** A message for the user (`"OK"` on success). */
  statusmsg: string;
  /** The outputs. */
  data: Record<string, unknown>;
}

const GO_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/**
 * Compact JSON as Go's `encoding/json` writes it: key order kept, `<`, `>`,
 * `&`, U+2028 and U+2029 escaped. What go-choria writes into request files.
 *
 * @example JSON escaped as Go writes it
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { goJson } from "@seed/rpc/choria";
 * assertEquals(goJson({ message: "hello <world> & co" }), '{"message":"hello \\u003cworld\\u003e \\u0026 co"}');
 * ```
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]!);
}
