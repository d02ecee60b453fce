// Closed-loop load: `inFlight` workers each make one call after another, for
// a bounded time and count (or for a fixed count: `calls`). Latency is
// recorded per call; throughput is completed calls over the measured wall time.

export interface BenchResult {
  bench: string;
  calls_per_s: number;
  p50_us: number;
  p99_us: number;
  calls: number;
  [extra: string]: unknown;
}

export interface MeasureOptions {
  /** Calls in flight at any moment. */
  inFlight: number;
  /** Measured run, in milliseconds (default 2000). */
  durationMs?: number;
  /** Warm-up before measuring, in milliseconds (default 500). */
  warmupMs?: number;
  /** Hard cap on measured calls (default 5 000 000). */
  maxCalls?: number;
  /** Report `cpu_us_per_call` of this process (needs --allow-run=cat on Linux). */
  cpu?: boolean;
  /**
   * A fixed count of measured calls instead of a measured time, and a quarter
   * of it as warm-up (the times then only bound them, at 60 s each): every
   * kind does the same work whatever the load on the machine, so their peak
   * RSS compares alike (memory grows with the calls made: the JIT's tiers,
   * the young generation's growth).
   */
  calls?: number;
}

/** What bounds the warm-up and the measured run of a fixed count. */
const FIXED_COUNT_CAP_MS = 60_000;

export async function measure(
  name: string,
  call: () => Promise<unknown>,
  options: MeasureOptions,
): Promise<BenchResult> {
  const fixed = options.calls;
  const durationMs = fixed !== undefined
    ? FIXED_COUNT_CAP_MS
    : options.durationMs ?? Number(Deno.env.get("BENCH_MS") ?? 2000);
  const warmupMs = fixed !== undefined
    ? FIXED_COUNT_CAP_MS
    : options.warmupMs ?? Math.min(500, durationMs / 4);
  const maxCalls = fixed ?? options.maxCalls ?? 5_000_000;
  const maxWarmupCalls = fixed !== undefined ? Math.ceil(fixed / 4) : maxCalls;

  const warmupCalls = await run(call, options.inFlight, warmupMs, maxWarmupCalls, undefined);
  const latencies = new Float64Array(maxCalls);
  const cpuBefore = options.cpu === true ? usage().cpu_ms : NaN;
  const started = performance.now();
  const calls = await run(call, options.inFlight, durationMs, maxCalls, latencies);
  const elapsed = performance.now() - started;
  const cpu = options.cpu === true ? usage().cpu_ms - cpuBefore : NaN;
  const sorted = latencies.subarray(0, calls).sort();
  const percentile = (p: number) => sorted[Math.min(calls - 1, Math.floor(calls * p))] ?? 0;
  return {
    bench: name,
    calls_per_s: Math.round(calls / (elapsed / 1000)),
    p50_us: Math.round(percentile(0.5) * 1000),
    p99_us: Math.round(percentile(0.99) * 1000),
    calls,
    warmup_calls: warmupCalls,
    // CPU time of this process per call (user + system), where /proc tells it.
    cpu_us_per_call: Number.isNaN(cpu) ? undefined : Math.round(cpu * 1000 / calls * 100) / 100,
  };
}

async function run(
  call: () => Promise<unknown>,
  inFlight: number,
  durationMs: number,
  maxCalls: number,
  latencies: Float64Array | undefined,
): Promise<number> {
  const deadline = performance.now() + durationMs;
  let done = 0;
  const worker = async () => {
    while (done < maxCalls) {
      const t0 = performance.now();
      await call();
      const t1 = performance.now();
      if (latencies !== undefined && done < maxCalls) latencies[done] = t1 - t0;
      done++;
      if (t1 >= deadline) return;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return Math.min(done, maxCalls);
}

/** This process's resources, as /proc tells them (Linux). */
export interface Usage {
  /** Resident memory now, MiB. */
  rss_mib: number;
  /** The peak of resident memory so far (VmHWM), MiB. */
  peak_mib: number;
  /** CPU time used so far (user + system), ms; NaN where /proc is not there. */
  cpu_ms: number;
}

/**
 * This process's memory and CPU time from /proc/<pid>/stat and status, read
 * by `cat` (Deno refuses to read /proc without --allow-all; give the process
 * --allow-run=cat). Elsewhere: `Deno.memoryUsage().rss` for both memory
 * figures, and no CPU time. It forks: call it outside what is timed.
 */
export function usage(): Usage {
  try {
    const { stdout } = new Deno.Command("cat", {
      args: [`/proc/${Deno.pid}/stat`, `/proc/${Deno.pid}/status`],
      stderr: "null",
    }).outputSync();
    const text = new TextDecoder().decode(stdout);
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s*(\\d+)`, "m").exec(text)![1]);
    // stat's fields after the command name (in parentheses, may hold spaces); 10 ms ticks.
    const fields = text.slice(text.indexOf(")") + 2).split(" ");
    return {
      rss_mib: mib(kib("VmRSS") * 1024),
      peak_mib: mib(kib("VmHWM") * 1024),
      cpu_ms: (Number(fields[11]) + Number(fields[12])) * 10,
    };
  } catch {
    const rss = mib(Deno.memoryUsage().rss);
    return { rss_mib: rss, peak_mib: rss, cpu_ms: NaN };
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024 * 10) / 10;
}
