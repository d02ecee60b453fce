// Headless Chromium driven over the DevTools protocol, with no dependency:
// the browser is started with a remote-debugging port, and its WebSocket
// endpoint takes JSON commands. Enough to open a page and read what its
// script did.

import { waitFor, within } from "./_helpers.ts";

const CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/** The Chromium executable: $CHROMIUM, or the first of the usual names on the PATH. */
export async function findChromium(): Promise<string | undefined> {
  const fromEnv = Deno.env.get("CHROMIUM");
  if (fromEnv) return fromEnv;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of CANDIDATES) {
      try {
        const path = `${dir}/${name}`;
        if ((await Deno.stat(path)).isFile) return path;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

interface Pending {
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

/** One headless browser. */
export class Chromium {
  #child: Deno.ChildProcess;
  #socket: WebSocket;
  #profile: string;
  #nextId = 0;
  #pending = new Map<number, Pending>();
  #stderr: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    socket: WebSocket,
    profile: string,
    stderr: Promise<void>,
  ) {
    this.#child = child;
    this.#socket = socket;
    this.#profile = profile;
    this.#stderr = stderr;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data) as {
        id?: number;
        result?: Record<string, unknown>;
        error?: { message: string };
      };
      if (message.id === undefined) return;
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.error) pending?.reject(new Error(message.error.message));
      else pending?.resolve(message.result ?? {});
    };
  }

  static async launch(executable: string): Promise<Chromium> {
    const profile = await Deno.makeTempDir({ prefix: "seed-rpc-chromium-" });
    const child = new Deno.Command(executable, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        `--user-data-dir=${profile}`,
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Chromium prints its DevTools endpoint on stderr.
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let endpoint: string | undefined;
    const readEndpoint = async () => {
      while (endpoint === undefined) {
        const { value, done } = await lines.read();
        if (done) throw new Error("chromium ended");
        text += value;
        endpoint = text.match(/DevTools listening on (ws:\/\/\S+)/)?.[1];
      }
      return endpoint;
    };
    try {
      endpoint = await within(readEndpoint(), 30_000, "chromium's DevTools endpoint");
    } catch (error) {
      child.kill("SIGKILL");
      await child.status;
      await lines.cancel().catch(() => {});
      throw new Error(`chromium did not start (${(error as Error).message}): ${text.slice(-2000)}`);
    }
    // Keep draining stderr so the browser never blocks on it.
    const stderr = (async () => {
      try {
        while (!(await lines.read()).done) { /* drop */ }
      } catch {
        // closed
      }
    })();
    const socket = new WebSocket(endpoint);
    await within(
      new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error("cannot reach chromium's DevTools endpoint"));
      }),
      30_000,
      "the DevTools connection",
    );
    return new Chromium(child, socket, profile, stderr);
  }

  /** Sends one DevTools command (to a page's session when given); fails after 30 s. */
  async send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = ++this.#nextId;
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(id, { resolve, reject });
    this.#socket.send(
      JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params }),
    );
    try {
      return await within(promise, 30_000, `the answer to ${method}`);
    } finally {
      this.#pending.delete(id);
    }
  }

  /** Opens `url` in a new tab. */
  async open(url: string): Promise<Tab> {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const tab = new Tab(this, String(sessionId));
    await this.send("Page.navigate", { url }, String(sessionId));
    return tab;
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.#socket.onclose = resolve);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.send("Browser.close"),
        new Promise((resolve) => timer = setTimeout(resolve, 2000)),
      ]);
    } catch {
      // The browser went away first.
    } finally {
      clearTimeout(timer);
    }
    this.#socket.close();
    await closed;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.#child.status;
    await this.#stderr;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}

/** A tab: evaluate expressions in its page. */
export class Tab {
  #browser: Chromium;
  #session: string;

  constructor(browser: Chromium, session: string) {
    this.#browser = browser;
    this.#session = session;
  }

  /** Evaluates `expression` in the page and returns its value (JSON-able). */
  async evaluate<T>(expression: string): Promise<T> {
    const { result, exceptionDetails } = await this.#browser.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    }, this.#session) as { result?: { value?: T }; exceptionDetails?: { text: string } };
    if (exceptionDetails) throw new Error(`in the page: ${exceptionDetails.text}`);
    return result?.value as T;
  }

  /** Waits until `expression` is truthy in the page; returns its value. */
  waitFor<T>(expression: string, timeoutMs = 30_000): Promise<T> {
    return waitFor(() => this.evaluate<T>(expression).catch(() => undefined), {
      timeout: timeoutMs,
      interval: 50,
      message: `${expression} in the page`,
    }) as Promise<T>;
  }
}
