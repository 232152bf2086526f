// The host's Prometheus metrics (prom-client), all named dw_host_*. Loaded only when a metricsPort
// is configured: without one, every call here is a no-op. prom-client's own modules are required
// one by one: its index also loads default process metrics, cluster aggregation, the push gateway
// and OpenTelemetry, 16 MiB of resident memory the host has no use for.
import { createRequire } from 'node:module';
import type PromClient from 'prom-client';

export type TaskPhase = 'claim' | 'image' | 'caches' | 'container-start' | 'run' | 'upload' | 'resolve' | (string & {});

export type ByteCounter = 'pulled' | 'loaded' | 'uploaded';

/** What the metrics read when scraped: the host's state at that moment. */
export interface MetricsSources {
  readonly capacity: number;
  slotsInUse(): number;
  tasksHeld(): number;
  /** null without Pulse (long-poll only). */
  pulseConsuming(): boolean | null;
}

export interface HostMetrics {
  /** One task ended: its state and (exception, unreported) reason. */
  taskEnded(state: string, reason: string): void;
  phase(phase: TaskPhase, ms: number): void;
  /** A task-pending message was seen at `at` (epoch ms) for the task claimed now. */
  pendingToClaim(ms: number): void;
  bytes(counter: ByteCounter, bytes: number): void;
  /** The Prometheus text exposition. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Seconds: from a local container start (tens of ms) to an hour-long task. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600];

export const NO_METRICS: HostMetrics = {
  taskEnded: () => {},
  phase: () => {},
  pendingToClaim: () => {},
  bytes: () => {},
  render: async () => ({ contentType: 'text/plain', body: '' }),
};

export function prometheusMetrics(sources: MetricsSources): HostMetrics {
  const require = createRequire(import.meta.url);
  const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry;
  const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter;
  const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge;
  const Histogram = require('prom-client/lib/histogram') as typeof PromClient.Histogram;
  const registry = new Registry();
  const registers = [registry];
  const tasks = new Counter({
    name: 'dw_host_tasks_total',
    help: 'Tasks this host ended, by state (completed, failed, exception, unreported) and reason',
    labelNames: ['state', 'reason'],
    registers,
  });
  const phases = new Histogram({
    name: 'dw_host_task_phase_seconds',
    help: "Duration of each phase of a task: claim (the claimWork that returned it), a run step's preparation (image, caches…), container-start, run, upload, resolve",
    labelNames: ['phase'],
    buckets: BUCKETS,
    registers,
  });
  const pendingToClaim = new Histogram({
    name: 'dw_host_pending_to_claim_seconds',
    help: "From the task-pending message to the claim of that task (tasks that came with Pulse's hint)",
    buckets: BUCKETS,
    registers,
  });
  const bytes = new Counter({
    name: 'dw_host_bytes_total',
    help: 'Bytes of images pulled from registries and task images loaded, and of artifacts uploaded',
    labelNames: ['what'],
    registers,
  });
  gauges(Gauge, registers, sources);
  return {
    taskEnded: (state, reason) => tasks.inc({ state, reason }),
    phase: (phase, ms) => phases.observe({ phase }, ms / 1000),
    pendingToClaim: (ms) => pendingToClaim.observe(ms / 1000),
    bytes: (what, count) => bytes.inc({ what }, count),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}

function gauges(Gauge: typeof PromClient.Gauge, registers: PromClient.Registry[], sources: MetricsSources): void {
  new Gauge({ name: 'dw_host_capacity', help: 'Slots: containers this host runs at once', registers }).set(
    sources.capacity,
  );
  new Gauge({
    name: 'dw_host_slots_in_use',
    help: 'Slots held: tasks claimed and not yet past their container run',
    registers,
    collect() {
      this.set(sources.slotsInUse());
    },
  });
  new Gauge({
    name: 'dw_host_tasks_held',
    help: 'Tasks this host holds, those uploading and reporting after their container included',
    registers,
    collect() {
      this.set(sources.tasksHeld());
    },
  });
  new Gauge({
    name: 'dw_host_pulse_consuming',
    help: 'Whether the Pulse consumer is subscribed (1) or reconnecting, claiming by long-poll meanwhile (0); -1 without Pulse',
    registers,
    collect() {
      const consuming = sources.pulseConsuming();
      this.set(consuming === null ? -1 : Number(consuming));
    },
  });
}
