// `deno task demo`: a JSON-RPC 2.0 server and client on loopback TCP, one
// process, no setup. It shows a typed contract call, a refused call, the
// server calling the client back, a cancelled call that the server's handler
// sees, and a push to every client; then a graceful shutdown.

import { Peer, RemoteError, RpcError, Server } from "../mod.ts";
import { defineContract } from "../contract.ts";
import { connect, listen } from "../transports/tcp.ts";

/** One contract for both ends: what the server answers, what the client answers. */
export const Shop = defineContract({
  name: "shop",
  incoming: {
    price: {
      params: {
        type: "object",
        properties: { item: { type: "string" }, quantity: { type: "integer", minimum: 1 } },
        required: ["item", "quantity"],
        additionalProperties: false,
      },
      result: { type: "number" },
    },
    checkout: {
      params: { type: "object", properties: { items: { type: "integer" } }, required: ["items"] },
      result: { type: "string" },
    },
    restock: {
      params: { type: "object", properties: { item: { type: "string" } }, required: ["item"] },
      result: { type: "string" },
    },
  },
  outgoing: {
    confirm: {
      params: { type: "object", properties: { total: { type: "number" } }, required: ["total"] },
      result: { type: "boolean" },
    },
    news: {
      notification: true,
      params: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
    },
  },
});

const PRICES: Record<string, number> = { apple: 0.5, pear: 0.75 };

export async function main(print: (line: string) => void = console.log): Promise<void> {
  print("@seed/rpc demo: JSON-RPC 2.0 over TCP on loopback");

  // ---- the server ---------------------------------------------------------
  const restockStopped = Promise.withResolvers<string>();
  const server: Server = new Server({
    handlers: (connection) =>
      Shop.handlers({
        price: ({ item, quantity }) => {
          const each = PRICES[item];
          if (each === undefined) throw new RpcError(-32000, `No such item: ${item}`, { item });
          return each * quantity;
        },
        // The server calls the client back before answering.
        checkout: async ({ items }) => {
          const ok = await Shop.remote(connection.peer).confirm({ total: items * 0.5 });
          return ok ? "paid" : "cancelled";
        },
        // A slow job that stops when the caller cancels.
        restock: ({ item }, ctx) =>
          new Promise<string>((resolve, reject) => {
            const timer = setTimeout(() => resolve(`${item} restocked`), 60_000);
            ctx.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              restockStopped.resolve(
                `server: restock(${item}) stopped: ${ctx.signal.reason.message}`,
              );
              reject(ctx.signal.reason);
            });
          }),
      }),
  }).serve(listen("tcp://127.0.0.1:0"));
  print(`server: listening on ${server.addr}`);

  // ---- the client ---------------------------------------------------------
  const heard = Promise.withResolvers<string>();
  const client = new Peer(await connect(server.addr));
  const ShopClient = Shop.invert();
  ShopClient.implement(client, {
    confirm: ({ total }) => {
      print(`client: the server asks to confirm a total of ${total}: yes`);
      return true;
    },
    news: ({ text }) => heard.resolve(text),
  });
  const shop = ShopClient.remote(client);

  print("client: price(apple x 3) ...");
  print(`  = ${await shop.price({ item: "apple", quantity: 3 })}`);

  print("client: price(kiwi x 1) ...");
  try {
    await shop.price({ item: "kiwi", quantity: 1 });
  } catch (error) {
    if (error instanceof RemoteError) print(`  refused: ${error.code} ${error.message}`);
  }

  print("client: price(apple x 0), sent raw past the client-side check ...");
  try {
    await client.call("price", { item: "apple", quantity: 0 });
  } catch (error) {
    if (error instanceof RemoteError) print(`  refused: ${error.code} ${error.message}`);
  }

  print("client: checkout(4 items) ...");
  print(`  = ${await shop.checkout({ items: 4 })}`);

  print("client: restock(pear), cancelled after 50 ms ...");
  try {
    await shop.restock({ item: "pear" }, { signal: AbortSignal.timeout(50) });
  } catch (error) {
    print(`  client gave up: ${(error as Error).name}`);
  }
  print(await restockStopped.promise);

  await server.notify("news", { text: "apples are half price today" });
  print(`client: heard news: ${await heard.promise}`);

  await client.close();
  await server.shutdown();
  print("done: client closed, server shut down gracefully");
}

if (import.meta.main) await main();
