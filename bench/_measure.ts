// Closed-loop load: `inFlight` workers each make one call after another, for
// a bounded time and count. Latency is recorded per call; throughput is
// completed calls over the measured wall time.

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
}

export async function measure(
  name: string,
  call: () => Promise<unknown>,
  options: MeasureOptions,
): Promise<BenchResult> {
  const durationMs = options.durationMs ?? Number(Deno.env.get("BENCH_MS") ?? 2000);
  const warmupMs = options.warmupMs ?? Math.min(500, durationMs / 4);
  const maxCalls = options.maxCalls ?? 5_000_000;

  await run(call, options.inFlight, warmupMs, maxCalls, undefined);
  const latencies = new Float64Array(maxCalls);
  const started = performance.now();
  const calls = await run(call, options.inFlight, durationMs, maxCalls, latencies);
  const elapsed = performance.now() - started;
  const sorted = latencies.subarray(0, calls).sort();
  const percentile = (p: number) => sorted[Math.min(calls - 1, Math.floor(calls * p))] ?? 0;
  return {
    bench: name,
    calls_per_s: Math.round(calls / (elapsed / 1000)),
    p50_us: Math.round(percentile(0.5) * 1000),
    p99_us: Math.round(percentile(0.99) * 1000),
    calls,
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

/** Resident memory of this process, in MiB: now, and its peak so far. */
export interface Memory {
  rss_mib: number;
  peak_mib: number;
}

/**
 * This process's resident memory: VmRSS and VmHWM (the peak) from
 * /proc/self/status where there is one (needs --allow-read=/proc/self/status),
 * else `Deno.memoryUsage().rss` for both.
 */
export function memory(): Memory {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s*(\\d+)`, "m").exec(status)![1]);
    return { rss_mib: mib(kib("VmRSS") * 1024), peak_mib: mib(kib("VmHWM") * 1024) };
  } catch {
    const rss = mib(Deno.memoryUsage().rss);
    return { rss_mib: rss, peak_mib: rss };
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024 * 10) / 10;
}
