// Replays the bytes the original quickrpc (python3, loehnertj/quickrpc) sent in the live runs
// (tests/fixtures/quickrpc_live_*.json, captured at our transport) to our side, which does what it
// did live (tests/fixtures/quickrpc_live_scenarios.ts), and checks that every byte we send is
// what we sent the original, in the same order and to the same peer.

import { assertEquals, assertRejects } from "@std/assert";
import {
  NotRunning,
  quickRpcApi,
  type QuickRpcSink,
  type QuickRpcTransport,
} from "../transports/quickrpc.ts";
import type { CallContext } from "../mod.ts";
import * as scenarios from "./fixtures/quickrpc_live_scenarios.ts";
import { test, waitFor } from "./_helpers.ts";

interface Entry {
  dir: "in" | "out";
  peer: string | null;
  text: string;
}

interface Capture {
  run: string;
  peer?: string;
  log: Entry[];
}

async function capture(name: string): Promise<Capture> {
  const url = new URL(`./fixtures/quickrpc_live_${name}.json`, import.meta.url);
  return JSON.parse(await Deno.readTextFile(url));
}

/** Plays the original's side of a capture: hands its bytes in, checks ours as they go out. */
class Replay implements QuickRpcTransport {
  readonly name = "replay";
  readonly sent: Entry[] = [];
  down = false;
  #sink: QuickRpcSink | undefined;

  open(sink: QuickRpcSink): Promise<void> {
    this.#sink = sink;
    return Promise.resolve();
  }

  send(data: Uint8Array, receivers?: readonly string[]): Promise<void> {
    const peer = receivers === undefined ? null : receivers.join(",");
    this.sent.push({ dir: "out", peer, text: new TextDecoder().decode(data) });
    return this.down ? Promise.reject(new NotRunning(this.name)) : Promise.resolve();
  }

  close(): Promise<void> {
    this.#sink?.ended();
    this.#sink = undefined;
    return Promise.resolve();
  }

  /** Feeds each `in` once every `out` before it was sent and matched. */
  async play(log: readonly Entry[]): Promise<void> {
    let outs = 0;
    for (const entry of log) {
      if (entry.dir === "out") {
        const at = outs++;
        await waitFor(() => this.sent.length > at, { message: `our send of ${entry.text}` });
        assertEquals(this.sent[at], entry);
      } else {
        this.#sink!.received(entry.peer!, new TextEncoder().encode(entry.text), true);
      }
    }
    assertEquals(this.sent.length, outs);
  }
}

function waiter(seen: string[]) {
  return async (text: string) => {
    await waitFor(() => seen.some((s) => s.startsWith(text)), { message: text });
  };
}

for (const name of ["stdio", "udp", "mux"] as const) {
  test(`replayed from the original: ${name}`, async () => {
    const { log, peer } = await capture(name);
    const scenario = scenarios[name];
    const seen: string[] = [];
    const replay = new Replay();
    await using api = await quickRpcApi({
      transport: replay,
      handlers: scenario.handlers(seen) as never,
    });
    const playing = replay.play(log);
    await scenario.run(api, peer!, waiter(seen));
    await playing;
  });
}

test("replayed from the original: restart (a call, the server down, a call after re-open)", async () => {
  const { log, peer } = await capture("restart");
  const replay = new Replay();
  await using api = await quickRpcApi({ transport: replay });
  const playing = replay.play(log);
  const run = () => scenarios.restart.run(api, peer!, () => Promise.resolve());
  await run();
  replay.down = true;
  await assertRejects(() => api.peer.call("add", { a: 1, b: 2 }), NotRunning);
  replay.down = false;
  await run();
  await playing;
});

test("replayed from the original: the original spawned ours over stdio", async () => {
  const { log } = await capture("spawned");
  const replay = new Replay();
  await using _api = await quickRpcApi({
    transport: replay,
    handlers: {
      add: ({ a, b }: { a: number; b: number }) => a + b,
      whoami: (_: unknown, ctx: CallContext) => ctx.from,
    },
  });
  await replay.play(log);
});
