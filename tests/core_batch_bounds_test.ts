// A batch's entries wait for room under the peer's bounds like single calls,
// but never for room the batch holds itself: an open batch takes no handler
// slot, and its size counts against maxConcurrentBytes once all its entries
// have started.

import { assertEquals } from "./_assert.ts";
import { rawHarness, within } from "./_helpers.ts";

const batch = '[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},' +
  '{"jsonrpc":"2.0","method":"add","params":[3,4],"id":2}]';
const answer = '[{"jsonrpc":"2.0","result":3,"id":1},{"jsonrpc":"2.0","result":7,"id":2}]';

Deno.test("batch: a peer with maxConcurrentHandlers: 1 answers a batch of two calls", async () => {
  const harness = rawHarness({ add: ([a, b]) => a + b }, { maxConcurrentHandlers: 1 });
  assertEquals(await within(harness.exchange(batch), 5000, "the batch's answer"), answer);
  await harness.close();
});

Deno.test("batch: a batch larger than maxConcurrentBytes is answered", async () => {
  const harness = rawHarness({ add: ([a, b]) => a + b }, { maxConcurrentBytes: 100 });
  assertEquals(await within(harness.exchange(batch), 5000, "the batch's answer"), answer);
  // Its bytes are released with its answer: a single call is served after it.
  const single = '{"jsonrpc":"2.0","method":"add","params":[5,6],"id":3}';
  assertEquals(
    await within(harness.exchange(single), 5000, "the call's answer"),
    '{"jsonrpc":"2.0","result":11,"id":3}',
  );
  await harness.close();
});
