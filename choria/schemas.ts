/**
 * Choria's JSON Schemas, compiled once with ajv at build time
 * (`scripts/generate_choria_validators.ts` writes
 * `_validators.generated.ts`), so an agent checks its request without
 * loading ajv at all: ajv's load and compile would cost every run about
 * 85 ms. A test regenerates the code and fails if it is stale.
 *
 * The schema files in `choria/schemas/` are choria-io/schemas' own, with
 * two changes:
 *
 * - `io.choria.mcorpc.external.v1.rpc_reply.json` is published with a
 *   trailing comma after `statusmsg.description`, which is not JSON; our
 *   copy drops that one comma. (Its `id` also names `rpc_request.json`, a
 *   slip kept as published.)
 * - The discovery request schema says `filter.compound` is a list of
 *   strings, but go-choria sends `[[{"expr": "..."}]]`; the compiled schema
 *   accepts any list there, so real requests validate.
 *
 * The draft-04 schemas are compiled as draft-07 (their keywords mean the same
 * in both) with `$schema` and `id` set aside.
 *
 * @module
 */

import { type AjvError, issuesFromAjv, type Validate } from "./_core.ts";
import * as compiled from "./_validators.generated.ts";

type AjvValidate = ((value: unknown) => boolean) & { errors?: AjvError[] | null };

const TITLES: Record<string, keyof typeof compiled> = {
  "io.choria.mcorpc.external.v1.rpc_request": "rpcRequest",
  "io.choria.mcorpc.external.v1.activation_request": "activationRequest",
  "io.choria.mcorpc.external.v1.rpc_reply": "rpcReply",
  "io.choria.mcorpc.external.v1.activation_reply": "activationReply",
  "io.choria.choria.discovery.v1.external_request": "discoveryRequest",
  "io.choria.choria.discovery.v1.external_reply": "discoveryReply",
  "mcorpc.ddl.v1.agent": "agentDdl",
};

const wrapped = new Map<string, Validate>();

/**
 * The validator for a Choria schema, by its title: a protocol id, or
 * `mcorpc.ddl.v1.agent` for agent DDLs.
 *
 * @example Validating a reply against Choria's schema
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { choriaSchema } from "@seed/rpc/choria";
 * const validate = choriaSchema("io.choria.mcorpc.external.v1.activation_reply");
 * assertEquals(validate({ activate: "yes" })?.[0]?.message, "must be boolean");
 * ```
 */
export function choriaSchema(title: string): Validate {
  let validate = wrapped.get(title);
  if (validate === undefined) {
    const name = Object.hasOwn(TITLES, title) ? TITLES[title] : undefined;
    if (name === undefined) throw new TypeError(`No Choria schema titled '${title}'`);
    const check = compiled[name] as unknown as AjvValidate;
    validate = (value: unknown) => check(value) ? undefined : issuesFromAjv(check.errors);
    wrapped.set(title, validate);
  }
  return validate;
}
