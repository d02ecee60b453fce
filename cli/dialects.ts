/**
 * The dialects the CLI speaks, by their `--dialect` names.
 *
 * @module
 */

import { type Dialect, jsonRpc } from "../mod.ts";
import { quickRpc } from "../protocol/quickrpc/quickrpc.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";

/** Every dialect, by name. */
export const DIALECTS: Readonly<Record<string, Dialect>> = Object.freeze({
  jsonrpc: jsonRpc,
  simplerpc: simpleRpc,
  quickrpc: quickRpc,
});
