/**
 * Unix socket URLs and the socket file's life: bound with a mode, a stale
 * file (nobody listening) replaced, a live one or a file that is not a
 * socket refused, and removed on close. Used by `transports/tcp.ts`.
 *
 * @module
 */

/** Owner-only: other users cannot connect (connecting needs write permission). */
export const DEFAULT_SOCKET_MODE = 0o600;

/**
 * The path of `unix:///abs/path`, `unix:/abs/path` or `unix:relative/path`
 * (relative to the current directory), taken as written (no
 * percent-decoding); `undefined` for a URL that is not `unix:`.
 */
export function parseUnixUrl(url: string | URL): string | undefined {
  const text = typeof url === "string" ? url : url.href;
  if (!/^unix:/i.test(text)) return undefined;
  let path = text.slice("unix:".length);
  if (path.startsWith("//")) {
    // unix://host/path names a host, which a unix socket has not.
    if (!path.startsWith("///")) {
      throw new TypeError(`A unix socket URL has no host: use unix:///path, got '${text}'`);
    }
    path = path.slice(2);
  }
  if (path === "") throw new TypeError(`A socket path is required in '${text}'`);
  return path;
}

/** Where the socket file stands: absent, a socket, or something else. */
function kindOf(path: string): "absent" | "socket" | "other" {
  try {
    return Deno.lstatSync(path).isSocket ? "socket" : "other";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "absent";
    throw error;
  }
}

function notASocket(path: string): Error {
  return new Deno.errors.AlreadyExists(
    `'${path}' exists and is not a socket; it is left alone (remove it, or pick another path)`,
  );
}

function inUse(path: string): Error {
  return new Deno.errors.AddrInUse(`unix socket '${path}' is in use: a server listens on it`);
}

/** The inode of the socket file we bound, to remove only our own on close. */
export interface BoundSocket {
  listener: Deno.Listener;
  path: string;
  inode: number | null;
}

/**
 * Binds `path` and sets its mode; a file already there is refused (a
 * socket may be live: {@linkcode bindUnixReplacingStale} checks).
 */
export function bindUnix(path: string, mode: number): BoundSocket {
  const kind = kindOf(path);
  if (kind === "other") throw notASocket(path);
  if (kind === "socket") {
    throw new Deno.errors.AddrInUse(
      `unix socket '${path}' exists (a live server, or a stale file): listenUnix() checks and replaces a stale one`,
    );
  }
  return bound(path, mode);
}

/**
 * Binds `path` and sets its mode, first removing a stale socket file there
 * (connecting to it is refused). A live socket, or a file that is not a
 * socket, is refused and left alone.
 */
export async function bindUnixReplacingStale(path: string, mode: number): Promise<BoundSocket> {
  const kind = kindOf(path);
  if (kind === "other") throw notASocket(path);
  if (kind === "socket") {
    let conn: Deno.Conn | undefined;
    try {
      conn = await Deno.connect({ transport: "unix", path });
    } catch (error) {
      // Refused: nobody listens. Gone meanwhile: nothing to remove.
      if (
        !(error instanceof Deno.errors.ConnectionRefused || error instanceof Deno.errors.NotFound)
      ) {
        throw error;
      }
    }
    if (conn !== undefined) {
      conn.close();
      throw inUse(path);
    }
    if (kindOf(path) === "socket") Deno.removeSync(path);
  }
  return bound(path, mode);
}

function bound(path: string, mode: number): BoundSocket {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (error) {
    // Another server bound it between our check and our bind.
    if (error instanceof Deno.errors.AddrInUse && kindOf(path) === "socket") throw inUse(path);
    throw error;
  }
  // Deno resolves a relative path: keep the absolute one, for removing it.
  path = (listener.addr as Deno.UnixAddr).path ?? path;
  try {
    // The file is made with the process's umask (its sockets usually
    // owner-writable only, so no one else can connect) until this narrows it.
    Deno.chmodSync(path, mode);
    return { listener, path, inode: Deno.lstatSync(path).ino };
  } catch (error) {
    listener.close();
    removeSocket({ listener, path, inode: null });
    throw error;
  }
}

/**
 * Removes the socket file if it is still the one we bound (Deno may have
 * removed it already on close; a server that bound the path since keeps its).
 */
export function removeSocket(socket: BoundSocket): void {
  try {
    const stat = Deno.lstatSync(socket.path);
    if (stat.isSocket && (socket.inode === null || stat.ino === socket.inode)) {
      Deno.removeSync(socket.path);
    }
  } catch {
    // Gone already, or not ours to see.
  }
}
