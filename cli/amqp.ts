/**
 * The `rpc` verbs on an `amqp://` URL (a nuropb mesh on RabbitMQ): `serve`
 * the demo API as a service, `call` (request), `notify` (command),
 * `publish` (event) and `describe`. Loaded only for `amqp://` URLs, so the
 * other verbs never load the AMQP client.
 *
 * @module
 */

import { RemoteError } from "../mod.ts";
import { connectMesh, type Mesh } from "../transports/amqp.ts";
import { hostsOf, originsOf, paramsOf, timeoutFlag, UsageError } from "./args.ts";
import { demoHandlers } from "./demo_api.ts";
import type { ParsedArgs } from "./parse_args.ts";
import {
  cliLogger,
  ExitStatus,
  oneLine,
  redactUrls,
  reportConnectFailure,
  type Reporter,
  reportFailure,
} from "./report.ts";

/** What the AMQP verbs read and write. */
export interface AmqpIo extends Reporter {
  stdout(line: string): void;
  readStdin(): Promise<string>;
  stop: Promise<string>;
}

function serviceOf(flags: ParsedArgs): string {
  const service = flags.service;
  if (typeof service !== "string" || service === "") {
    throw new UsageError("an amqp:// URL needs --service NAME");
  }
  return service;
}

async function open(
  verb: string,
  url: string,
  io: AmqpIo,
  timeout?: number,
): Promise<Mesh | undefined> {
  try {
    return await connectMesh(url, { logger: cliLogger(io), timeout });
  } catch (error) {
    reportConnectFailure(io, verb, url, error);
    return undefined;
  }
}

/** A nuropb error as the CLI reports it: its name and description. */
function nuropbFailure(io: AmqpIo, verb: string, error: unknown): number {
  if (error instanceof RemoteError) {
    const data = error.data as { error?: string; description?: string } | undefined;
    if (typeof data?.error === "string") {
      if (io.json) {
        io.stderr(
          JSON.stringify({ kind: "remote", code: error.code, message: error.message, data }),
        );
      } else {
        io.stderr(`error ${oneLine(data.error)}: ${oneLine(data.description ?? error.message)}`);
      }
      return ExitStatus.RemoteError;
    }
  }
  if (error instanceof Error && error.name === "NotDelivered") {
    if (io.json) {
      io.stderr(
        JSON.stringify({
          kind: "remote",
          message: error.message,
          data: { error: "NuropbNotDeliveredError" },
        }),
      );
    } else {
      io.stderr(`error NuropbNotDeliveredError: ${oneLine(error.message)}`);
    }
    return ExitStatus.RemoteError;
  }
  return reportFailure(io, verb, error);
}

/** `rpc serve amqp://… --service NAME`: the demo API as a nuropb service. */
export async function serveAmqp(flags: ParsedArgs, io: AmqpIo): Promise<number> {
  const [url, extra] = flags._.map(String);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const service = serviceOf(flags);
  // Refuse --origin and --host: no browser reaches a mesh.
  originsOf(flags, url!);
  hostsOf(flags, url!);
  const mesh = await open("serve", url!, io);
  if (mesh === undefined) return ExitStatus.Usage;
  try {
    await mesh.serve(service, demoHandlers((line) => io.stderr(line)), {
      description: "The rpc command's demo API",
    });
  } catch (error) {
    await mesh.close();
    io.stderr(
      `rpc serve: cannot serve ${service}: ${oneLine(redactUrls((error as Error).message))}`,
    );
    return ExitStatus.Usage;
  }
  io.stdout(`serving ${service} on ${new URL(url!).host} vhost ${mesh.vhost}`);
  const why = await io.stop;
  io.stderr(`${why}: shutting down`);
  await mesh.close();
  return ExitStatus.Ok;
}

/** `rpc call|notify|describe amqp://… --service NAME`, `rpc publish amqp://… TOPIC EVENT`. */
export async function clientAmqp(
  verb: "call" | "notify" | "describe" | "publish",
  flags: ParsedArgs,
  io: AmqpIo,
): Promise<number> {
  const [url, first, second, extra] = flags._.map(String);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  let run: (mesh: Mesh) => Promise<void>;
  if (verb === "publish") {
    if (flags.service !== undefined) throw new UsageError("--service does not apply to 'publish'");
    if (first === undefined) throw new UsageError("a topic is required");
    const event = await paramsOf(second, io.readStdin);
    run = (mesh) => mesh.publish(first, event ?? null);
  } else if (verb === "describe") {
    if (first !== undefined) throw new UsageError(`unexpected argument '${first}'`);
    const service = serviceOf(flags);
    run = async (mesh) => io.stdout(JSON.stringify(await mesh.describe(service), null, 2));
  } else {
    const service = serviceOf(flags);
    if (first === undefined) throw new UsageError("a method name is required");
    const params = (await paramsOf(second, io.readStdin)) ?? {};
    if (typeof params !== "object" || params === null || Array.isArray(params)) {
      throw new UsageError("nuropb params are a JSON object (named parameters)");
    }
    const named = params as Record<string, unknown>;
    run = verb === "notify" ? (mesh) => mesh.command(service, first, named) : async (mesh) => {
      const result = await mesh.request(service, first, named);
      io.stdout(JSON.stringify(result, null, flags.pretty === true ? 2 : undefined) ?? "null");
    };
  }
  const mesh = await open(verb, url!, io, timeoutFlag(flags));
  if (mesh === undefined) return ExitStatus.Usage;
  try {
    await run(mesh);
    return ExitStatus.Ok;
  } catch (error) {
    return nuropbFailure(io, verb, error);
  } finally {
    await mesh.close();
  }
}
