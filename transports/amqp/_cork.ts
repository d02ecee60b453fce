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
  /** How many cork() calls are still to be undone (node's Writable). */
  readonly writableCorked: number;
}

function uncork(socket: Corkable): void {
  socket.uncork();
}

/** Holds `channel`'s socket writes until the current tick's work is done, then sends them at once. */
export function corkTick(channel: AMQPChannel): void {
  const socket = (channel.connection as { socket?: Corkable } | undefined)?.socket;
  // Corked already: by an earlier call this tick (its uncork is on the way). No set
  // of corked sockets: adding to one and deleting from it allocated at every call.
  if (socket === undefined || socket.writableCorked > 0) return;
  socket.cork();
  process.nextTick(uncork, socket);
}
