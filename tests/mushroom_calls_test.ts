// mushroom's per-session codec: our messages to mushroom's and back, numbered,
// with replies mapped to the calls they answer. Pure: no session, no socket.

import { ErrorCode } from "../mod.ts";
import { MushroomCallCodec } from "../protocol/dialects/mushroom_calls.ts";
import { assertEquals } from "./_assert.ts";
import { recordingLogger } from "./_helpers.ts";

Deno.test("mushroom codec: every message it sends takes the next id, replies included", () => {
  const codec = new MushroomCallCodec();
  assertEquals(codec.encode({ kind: "notification", method: "tick" }), [
    { code: 1, id: 0, method: "tick", data: null },
  ]);
  assertEquals(codec.encode({ kind: "request", id: "a", method: "add", params: [1, 2] }), [
    { code: 2, id: 1, method: "add", data: [1, 2] },
  ]);
  assertEquals(codec.encode({ kind: "result", id: 6, result: 1342106240 }), [
    { code: 3, id: 2, requestId: 6, data: 1342106240 },
  ]);
  assertEquals(codec.encode({ kind: "error", id: 7, error: { code: 1, message: "no" } }), [
    { code: 4, id: 3, requestId: 7, data: "no" },
  ]);
});

Deno.test("mushroom codec: a reply comes back under the call's own id, once", () => {
  const logger = recordingLogger();
  const codec = new MushroomCallCodec(logger, "s1");
  codec.encode({ kind: "request", id: "call-9", method: "get_time" });
  assertEquals(codec.decode({ code: 3, id: 0, requestId: 0, data: 5 }), {
    kind: "result",
    id: "call-9",
    result: 5,
  });
  assertEquals(codec.pending, 0);
  // The same reply again answers nothing: dropped, and said.
  assertEquals(codec.decode({ code: 3, id: 1, requestId: 0, data: 5 }), []);
  assertEquals(logger.messages("warn"), ["s1: dropped a response to unknown request 0"]);
});

Deno.test("mushroom codec: a cancelled call is forgotten and its late reply dropped", () => {
  const logger = recordingLogger();
  const codec = new MushroomCallCodec(logger, "s1");
  codec.encode({ kind: "request", id: 1, method: "slow" });
  assertEquals(codec.encode({ kind: "cancel", id: 1 }), []);
  assertEquals(codec.pending, 0);
  assertEquals(codec.decode({ code: 4, id: 0, requestId: 0, data: "late" }), []);
  assertEquals(logger.messages("warn"), ["s1: dropped a error to unknown request 0"]);
  // A cancel takes no id: the next message is 1.
  assertEquals(codec.encode({ kind: "notification", method: "n" })[0], {
    code: 1,
    id: 1,
    method: "n",
    data: null,
  });
});

Deno.test("mushroom codec: errors travel as mushroom's bare data, and come back as -32000", () => {
  const codec = new MushroomCallCodec();
  const notFound = {
    code: ErrorCode.MethodNotFound,
    message: "Method not found",
    data: { method: "nope" },
  };
  const internal = { code: ErrorCode.InternalError, message: "boom at line 3" };
  assertEquals(codec.encode({ kind: "error", id: 1, error: notFound })[0], {
    code: 4,
    id: 0,
    requestId: 1,
    data: "nope",
  });
  assertEquals(codec.encode({ kind: "error", id: 2, error: internal })[0], {
    code: 4,
    id: 1,
    requestId: 2,
    data: "Internal server error",
  });
  codec.encode({ kind: "request", id: 10, method: "m" });
  codec.encode({ kind: "request", id: 11, method: "m" });
  assertEquals(codec.decode({ code: 4, id: 0, requestId: 2, data: "bad input" }), {
    kind: "error",
    id: 10,
    error: { code: -32000, message: "bad input", data: "bad input" },
  });
  assertEquals(codec.decode({ code: 4, id: 1, requestId: 3, data: { why: 1 } }), {
    kind: "error",
    id: 11,
    error: { code: -32000, message: "Method call failed", data: { why: 1 } },
  });
});

Deno.test("mushroom codec: left-out data reaches a handler as no params; heartbeats decode to nothing", () => {
  const codec = new MushroomCallCodec();
  assertEquals(codec.decode({ code: 2, id: 6, method: "get_time", data: null }), {
    kind: "request",
    id: 6,
    method: "get_time",
  });
  assertEquals(codec.decode({ code: 1, id: 7, method: "ready", data: true }), {
    kind: "notification",
    method: "ready",
    params: true,
  });
  assertEquals(codec.decode({ code: 0, lastId: 3 }), []);
  assertEquals(codec.decode({ code: -1 }), []);
});

Deno.test("mushroom codec: a reply with no numeric request id is not sent and takes no id", () => {
  const logger = recordingLogger();
  const codec = new MushroomCallCodec(logger, "s1");
  assertEquals(codec.encode({ kind: "result", id: "x", result: 1 }), []);
  assertEquals(codec.encode({ kind: "notification", method: "n" })[0]?.code, 1);
  assertEquals((codec.encode({ kind: "notification", method: "n" })[0] as { id: number }).id, 1);
  assertEquals(logger.messages("debug"), ["s1: dropped an result with no request to answer"]);
});

Deno.test("mushroom codec: a call outlasting thousands of others is still answered and cancelled by its own id", () => {
  const codec = new MushroomCallCodec();
  // Message 0 stays awaited while 3000 others come and go; 1024 and 2048 fall on its slot.
  codec.encode({ kind: "request", id: "long", method: "wait" });
  codec.encode({ kind: "request", id: "stays", method: "wait" });
  for (let i = 2; i < 3002; i++) {
    codec.encode({ kind: "request", id: i, method: "add" });
    if (i !== 1024 && i !== 2049) {
      assertEquals(codec.decode({ code: 3, id: i, requestId: i, data: i }), {
        kind: "result",
        id: i,
        result: i,
      });
    }
  }
  assertEquals(codec.pending, 4);
  // Both that shared a slot with a longer call (1024 with 0, 2049 with 1) are found.
  assertEquals(codec.decode({ code: 3, id: 1, requestId: 1024, data: "x" }), {
    kind: "result",
    id: 1024,
    result: "x",
  });
  // A cancel finds the message id of a call in its slot, and of one that was not.
  assertEquals(codec.encode({ kind: "cancel", id: "long" }), []);
  assertEquals(codec.encode({ kind: "cancel", id: 2049 }), []);
  assertEquals(codec.pending, 1);
  assertEquals(codec.decode({ code: 3, id: 2, requestId: 0, data: "late" }), []);
  assertEquals(codec.decode({ code: 3, id: 3, requestId: 1, data: "y" }), {
    kind: "result",
    id: "stays",
    result: "y",
  });
  assertEquals(codec.pending, 0);
});
