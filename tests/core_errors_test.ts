// What a handler's exception becomes on the wire: an RpcError made by another
// copy of the library keeps its code and data, and `exposeErrors: false`
// keeps the message of an unexpected exception on the server.

import { CallAgain, ErrorCode, memoryPair, Peer, RemoteError, RpcError, Server } from "../mod.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { peerPair, recordingLogger } from "./_helpers.ts";

type ErrorsModule = typeof import("../protocol/wire/errors.ts");

/** A second copy of protocol/wire/errors.ts (as a `--handlers` file or a monorepo would load it). */
async function secondCopy(): Promise<{ module: ErrorsModule; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "seed-rpc-copy-" });
  for (const file of ["errors.ts", "close.ts", "message.ts"]) {
    await Deno.copyFile(new URL(`../protocol/wire/${file}`, import.meta.url), `${dir}/${file}`);
  }
  const module = await import(new URL(`file://${dir}/errors.ts`).href) as ErrorsModule;
  return { module, dir };
}

Deno.test("errors: an RpcError from a second copy of the library keeps its code and data", async () => {
  const { module: copy, dir } = await secondCopy();
  try {
    assert(copy.RpcError !== RpcError, "the copy is a different class");
    const foreign = new copy.RpcError(-32000, "Out of stock", { sku: "A-1" });
    assertEquals(RpcError.is(foreign), true);
    assertEquals(foreign instanceof RpcError, true);
    assertEquals(RpcError.is(new Error("plain")), false);
    assertEquals(RpcError.is({ code: 1, message: "a look-alike without the brand" }), false);
    // Subclasses still match on their own class only.
    assertEquals(new RpcError(1) instanceof RemoteError, false);
    assertEquals(new RemoteError({ code: 1, message: "x" }) instanceof RpcError, true);

    const { client, close } = peerPair({
      handlers: {
        refuse: () => {
          throw foreign;
        },
        later: () => {
          throw new copy.CallAgain("warming up");
        },
      },
    });
    const refused = await assertRejects(() => client.call("refuse"), RemoteError);
    assertEquals([refused.code, refused.message, refused.data], [-32000, "Out of stock", {
      sku: "A-1",
    }]);
    // A memory pair cannot redeliver: the caller is told, as for our own CallAgain.
    const later = await assertRejects(() => client.call("later"), RemoteError);
    assertEquals([later.code, later.message], [ErrorCode.CallAgainRefused, "warming up"]);
    assertEquals(new copy.CallAgain() instanceof CallAgain, true);
    await close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("errors: exposeErrors: false answers an unexpected exception with a bare -32603", async () => {
  const logger = recordingLogger();
  const { client, close } = peerPair({
    logger,
    exposeErrors: false,
    handlers: {
      crash: () => {
        throw new Error("cannot connect to postgres://app:hunter2@db/prod");
      },
      crashLater: () => Promise.reject("a thrown string"),
      refuse: () => {
        throw new RpcError(-32000, "Out of stock", { sku: "A-1" });
      },
    },
  });
  for (const method of ["crash", "crashLater"]) {
    const error = await assertRejects(() => client.call(method), RemoteError);
    assertEquals([error.code, error.message, error.data], [-32603, "Internal error", undefined]);
  }
  // A deliberate RpcError still crosses as it is.
  const refused = await assertRejects(() => client.call("refuse"), RemoteError);
  assertEquals([refused.code, refused.message, refused.data], [-32000, "Out of stock", {
    sku: "A-1",
  }]);
  // The server's log has the whole exception, stack included.
  const logged = logger.lines.find((line) => line.message.includes("handler 'crash' threw"));
  const error = logged?.data[0] as Error;
  assertStringIncludes(error.message, "hunter2");
  assertStringIncludes(error.stack ?? "", "core_errors_test.ts");
  await close();
});

Deno.test("errors: a Server passes exposeErrors to each connection's peer", async () => {
  const logger = recordingLogger();
  const server = new Server({
    logger,
    peer: { exposeErrors: false },
    handlers: {
      crash: () => {
        throw new TypeError("secret internals");
      },
    },
  });
  const [a, b] = memoryPair();
  server.add(a);
  const client = new Peer(b, { logger });
  const error = await assertRejects(() => client.call("crash"), RemoteError);
  assertEquals([error.code, error.message], [-32603, "Internal error"]);
  await client.close();
  await server.shutdown();
});

Deno.test("errors: by default an unexpected exception's message reaches the caller", async () => {
  const { client, close } = peerPair({
    handlers: {
      crash: () => {
        throw new Error("disk on fire");
      },
    },
  });
  const error = await assertRejects(() => client.call("crash"), RemoteError);
  assertEquals([error.code, error.message], [-32603, "disk on fire"]);
  await close();
});
