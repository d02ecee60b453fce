// One socket write for the frames of one tick. The AMQP client writes each
// publish and each ack on its own, and on loopback the write system call is
// most of what a mesh request costs (three per request: the request, the
// reply, the ack). Corking the socket until the tick's work is done sends
// them together (one writev): the same bytes in the same order, fewer
// system calls here and fewer reads for the broker.

import process from "node:process";
import type { AMQPChannel } from "./_connection.ts";

/** What the client's socket offers (a node:net Socket). */
interface Corkable {
  cork(): void;
  uncork(): void;
}

const corked = new WeakSet<Corkable>();

function uncork(socket: Corkable): void {
  corked.delete(socket);
  socket.uncork();
}

/** Holds `channel`'s socket writes until the current tick's work is done, then sends them at once. */
export function corkTick(channel: AMQPChannel): void {
  const socket = (channel.connection as { socket?: Corkable } | undefined)?.socket;
  if (socket === undefined || corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(uncork, socket);
}
