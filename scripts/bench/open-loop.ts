// An open-loop load for latency: requests start on a fixed schedule whatever the answers do,
// over a fixed pool of keep-alive connections, and each latency counts from the moment its
// request was due, so time queued behind a slow answer counts too (no coordinated omission).
// autocannon's `overallRate` is not that: each connection sends its quota for the second back
// to back and then idles until the next second, so the server still sees bursts at full speed
// and the latencies measure that queue (p99 in the hundreds of ms for the bare route at half
// its throughput).
import { Agent, request } from 'node:http';

export type OpenLoopOptions = {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly bodies: readonly string[];
  /** Requests per second, all connections together. */
  readonly rate: number;
  readonly seconds: number;
  readonly connections: number;
};

export type OpenLoopResult = {
  readonly completed: number;
  readonly failed: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
};

export const openLoop = async (o: OpenLoopOptions): Promise<OpenLoopResult> => {
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const total = Math.round(o.rate * o.seconds);
  const latencies: number[] = [];
  let failed = 0;
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const settle = () => {
      if (latencies.length + failed === total) resolve();
    };
    const send = (due: number) => {
      const body = o.bodies[sent % o.bodies.length]!;
      sent += 1;
      const headers = { ...o.headers, 'content-length': String(Buffer.byteLength(body)) };
      const req = request(o.url, { method: 'POST', agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(performance.now() - due);
          else failed += 1;
          settle();
        });
      });
      req.on('error', () => {
        failed += 1;
        settle();
      });
      req.end(body);
    };
    // Timers fire at best every millisecond: what fell due meanwhile leaves at once, each
    // request still timed from its own due moment.
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * o.rate));
      while (sent < due) send(started + (sent * 1000) / o.rate);
      if (sent === total) clearInterval(timer);
    }, 1);
  });
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const quantile = (q: number) =>
    latencies.length === 0
      ? Number.NaN
      : Math.round(
          10 * latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!,
        ) / 10;
  return { completed: latencies.length, failed, seconds, p50: quantile(0.5), p99: quantile(0.99) };
};
