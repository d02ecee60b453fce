// The AMQP part of the fuzz corpus (tests/fixtures/fuzz/amqp-*.json): each
// message that once ended a nuropb service or caller, published through a
// private RabbitMQ node to a live service (and, for fake replies, a caller's
// response queue). Each is decoded by the codec first (it must not throw);
// after a file, the service must have taken every message and must answer a
// fresh request. `deno task fuzz amqp` writes new files to fuzz/crashes/.

import { assert, assertEquals } from "./_assert.ts";
import { amqpTest, freshMesh, rawPublisher, stopBrokerAfterAll } from "./_amqp.ts";
import { recordingLogger, waitFor } from "./_helpers.ts";
import { targetHandlers } from "../fuzz/_target.ts";
import { connectMesh, decodeNuropb, type NuropbProperties } from "../transports/amqp.ts";

interface CorpusEnvelope {
  exchange: string;
  /** `{service}` and `{caller}` stand for the service's name and the caller's response queue. */
  routingKey: string;
  properties: NuropbProperties & { contentType?: string };
  body: { text: string } | { base64: string };
  /** Adds a header `pad` of this many KiB (kept out of the file). */
  padHeaderKb?: number;
}

interface AmqpCorpusFile {
  dialect: string;
  note: string;
  envelopes: CorpusEnvelope[];
}

const dir = new URL("./fixtures/fuzz/", import.meta.url);
const SERVICE = "fuzz";

for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
  const corpus = JSON.parse(Deno.readTextFileSync(new URL(entry.name, dir))) as AmqpCorpusFile;
  if (corpus.dialect !== "amqp") continue;
  amqpTest(`fuzz corpus ${entry.name}: ${corpus.note}`, async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const server = await connectMesh(url, { logger });
    await server.serve(SERVICE, targetHandlers(), { events: { "fuzz.#": () => {} } });
    const caller = await connectMesh(url, { logger, timeout: 10_000 });
    const raw = await rawPublisher(url, 131_072);
    const place = (text: string) =>
      text.replaceAll("{service}", SERVICE).replaceAll("{caller}", caller.responseQueue);
    try {
      for (const envelope of corpus.envelopes) {
        const properties = structuredClone(envelope.properties);
        if (properties.replyTo !== undefined) properties.replyTo = place(properties.replyTo);
        if (envelope.padHeaderKb !== undefined) {
          properties.headers = {
            ...properties.headers,
            pad: "x".repeat(envelope.padHeaderKb * 1024),
          };
        }
        const body = "text" in envelope.body
          ? new TextEncoder().encode(envelope.body.text)
          : Uint8Array.from(atob(envelope.body.base64), (c) => c.charCodeAt(0));
        // The codec alone never throws on it.
        decodeNuropb(new TextDecoder().decode(body), properties);
        await raw.publish(body, properties, envelope.exchange, place(envelope.routingKey));
      }
      await waitFor(async () => (await raw.count(`nuropb-${SERVICE}-sq`)) === 0, {
        timeout: 30_000,
        message: "the service took every message",
      });
      assertEquals(await caller.request(SERVICE, "add", { a: 20, b: 22 }), { sum: 42 });
      assertEquals(server.stats().reconnects, 0);
      assertEquals(caller.stats().reconnects, 0);
      assert(server.stats().services[SERVICE] !== undefined, "still serving");
    } finally {
      await raw.close();
      await caller.close();
      await server.close();
    }
  });
}

stopBrokerAfterAll();
