// The client side of the line-framed benchmarks (TCP, unix sockets), run in
// its own fresh process, as a deployment runs it, loading only the code of
// its kind; the measuring loop (bench/_measure.ts: exactly N calls in flight)
// runs here, the same for every kind:
//   deno run --allow-net=... --allow-run=cat --allow-env=BENCH_MS,BENCH_CALLS \
//     bench/_client_process.ts KIND ADDRESS IN_FLIGHT NAME
// KIND: raw | min-jsonrpc | jsonrpc; ADDRESS: a port on 127.0.0.1, or unix:PATH.
// Or KIND http-min-jsonrpc (a plain fetch) | http-min-guarded (the plain fetch with
// the guards, bench/_min_http.ts) | http-jsonrpc (a Peer on our HTTP
// client), and ADDRESS the endpoint's http:// URL.
// BENCH_CALLS=N: N measured calls (and N/4 of warm-up) instead of BENCH_MS of
// them, the same work for every kind (for memory: see bench/_measure.ts).
// Prints the result as one JSON line, with its memory (MiB): rss_start_mib
// (connected, before any call) and peak_mib (VmHWM once the calls are done,
// before the close: where the server reads its own, bench/_server.ts).

import { type BenchResult, measure, usage } from "./_measure.ts";
import { CLIENT_CPU, spawnDeno } from "./_server_process.ts";

/** A JSON-RPC request line of about 60 bytes, like the one our client sends. */
const RAW_LINE = '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":1}';

/** What a client process reports. */
export interface ClientResult extends BenchResult {
  rss_start_mib: number;
  peak_mib: number;
  warmup_calls: number;
  cpu_us_per_call?: number;
}

/** Runs the client of `kind` against `address` in its own process, pinned where the OS allows. */
export async function runClient(
  kind: string,
  address: string,
  inFlight: number,
  name: string,
): Promise<ClientResult> {
  const path = address.startsWith("unix:") ? address.slice("unix:".length) : undefined;
  const permissions = path === undefined ? ["--allow-net=127.0.0.1"] : [
    `--allow-net=unix:${path}`,
    `--allow-read=${path}`,
    `--allow-write=${path}`,
  ];
  const child = await spawnDeno(
    [
      ...permissions,
      "--allow-env=BENCH_MS,BENCH_CALLS",
      "--allow-run=cat",
      new URL(import.meta.url).pathname,
      kind,
      address,
      String(inFlight),
      name,
    ],
    CLIENT_CPU,
    { stdin: "null", stdout: "piped" },
  );
  const { code, stdout } = await child.output();
  if (code !== 0) throw new Error(`the ${kind} bench client exited with status ${code}`);
  return JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").at(-1)!);
}

/** A connected client: one call, and close. */
interface Client {
  call(): Promise<unknown>;
  close(): Promise<void>;
}

async function connect(kind: string, address: string): Promise<Client> {
  if (kind === "http-min-jsonrpc") {
    const { MinHttpClient } = await import("./_min_http.ts");
    const min = new MinHttpClient(address);
    return { call: () => min.add(1, 2), close: () => Promise.resolve() };
  }
  if (kind === "http-min-guarded") {
    const { GuardedHttpClient } = await import("./_min_http.ts");
    const min = new GuardedHttpClient(address);
    return { call: () => min.add(1, 2), close: () => Promise.resolve() };
  }
  if (kind === "http-jsonrpc") {
    // What a deployment of an HTTP client imports: the Peer and the HTTP transport.
    const { Peer, silentLogger } = await import("../mod.ts");
    const http = await import("../transports/http.ts");
    const peer = new Peer(await http.connect(address), { logger: silentLogger });
    const params = { a: 1, b: 2 };
    return { call: () => peer.call("add", params), close: () => peer.close() };
  }
  const path = address.startsWith("unix:") ? address.slice("unix:".length) : undefined;
  const port = Number(address);
  if (kind === "raw") {
    const { RawEchoClient } = await import("./_raw_echo.ts");
    const raw = path === undefined
      ? await RawEchoClient.connect(port)
      : await RawEchoClient.connectUnix(path);
    return { call: () => raw.call(RAW_LINE), close: () => raw.close() };
  }
  if (kind === "min-jsonrpc") {
    const { MinJsonRpcClient } = await import("./_min_jsonrpc.ts");
    const min = path === undefined
      ? await MinJsonRpcClient.connect(port)
      : await MinJsonRpcClient.connectUnix(path);
    return { call: () => min.add(1, 2), close: () => min.close() };
  }
  // What a deployment of a TCP client imports: the Peer and the TCP transport.
  const { Peer, silentLogger } = await import("../mod.ts");
  const tcp = await import("../transports/tcp.ts");
  const url = path === undefined ? `tcp://127.0.0.1:${port}` : `unix://${path}`;
  const peer = new Peer(await tcp.connect(url), { logger: silentLogger });
  const params = { a: 1, b: 2 };
  return { call: () => peer.call("add", params), close: () => peer.close() };
}

if (import.meta.main) {
  const [kind, address, inFlight, name] = Deno.args as [string, string, string, string];
  const client = await connect(kind, address);
  const started = usage();
  const calls = Deno.env.get("BENCH_CALLS");
  const result = await measure(name, () => client.call(), {
    inFlight: Number(inFlight),
    cpu: true,
    // HTTP: a longer warm-up (both sides have more code for the JIT to settle).
    warmupMs: kind.startsWith("http") ? 2000 : undefined,
    calls: calls === undefined ? undefined : Number(calls),
  });
  // The peak of the run, read before the close as the server reads its own.
  const ended = usage();
  await client.close();
  console.log(JSON.stringify({
    ...result,
    rss_start_mib: started.rss_mib,
    peak_mib: ended.peak_mib,
  }));
}
