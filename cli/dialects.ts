/**
 * The dialects the CLI speaks, and what each needs on the wire.
 *
 * @module
 */

import { type Codec, jsonRpc } from "../mod.ts";
import { quickRpc } from "../protocol/dialects/quickrpc.ts";
import { simpleRpcClient, simpleRpcServer } from "../protocol/dialects/simplerpc.ts";

/** How to speak one dialect over a delimited TCP wire. */
export interface Dialect {
  /** Its name on the command line. */
  name: string;
  /** The frame delimiter. */
  delimiter: "\n" | "\0";
  /** A codec for one server-side connection. */
  serverCodec(): Codec<string>;
  /** A codec for one client connection. */
  clientCodec(): Codec<string>;
}

/** Every dialect, by name. */
export const DIALECTS: Readonly<Record<string, Dialect>> = {
  jsonrpc: {
    name: "jsonrpc",
    delimiter: "\n",
    serverCodec: () => jsonRpc,
    clientCodec: () => jsonRpc,
  },
  simplerpc: {
    name: "simplerpc",
    delimiter: "\n",
    serverCodec: simpleRpcServer,
    clientCodec: simpleRpcClient,
  },
  quickrpc: { name: "quickrpc", delimiter: "\0", serverCodec: quickRpc, clientCodec: quickRpc },
};
