// The host's reactions to the outside world: Pulse messages and process signals. Each turns an
// event into a scheduler call; none decides a task's outcome.
import { PulseListener } from '../adapters/pulse/pulse-listener.ts';
import type { TaskCredentialsRegistry } from '../adapters/taskcluster/credentials.ts';
import type { TaskAbortReason, WorkerIdentity } from '../functions/types.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { OperatorLog } from './logger.ts';
import type { Scheduler } from './scheduler.ts';

export function startPulse(
  url: string,
  worker: WorkerIdentity,
  scheduler: Scheduler,
  runs: TaskCredentialsRegistry,
  log: OperatorLog,
  onHint: (taskId: string | undefined) => void = () => {},
): PulseListener {
  const pulse = new PulseListener(url, worker, {
    onPending: (taskId) => {
      onHint(taskId);
      scheduler.hint();
    },
    onException: (taskId, runId, reason) => {
      // The queue announces this host's own reportException too: that is no news to the run.
      if (runs.isOwnReport(taskId, runId, reason)) return;
      const kind: TaskAbortReason =
        reason === 'canceled' ? { kind: 'canceled' } : { kind: 'claim-lost', message: reason };
      if (scheduler.abort(taskId, runId, kind))
        log.info({ taskId, runId, reason }, 'run resolved by the queue; stopping it');
    },
    onConnectionChange: (connected, error) => {
      if (connected) log.info('pulse connected');
      else log.warn({ err: error }, 'pulse disconnected; reconnecting, long-poll continues');
      scheduler.wake();
    },
    onWarning: (message, error) => log.warn({ err: error }, message),
  });
  pulse.start();
  return pulse;
}

/** SIGTERM/SIGINT: stop claiming, let tasks finish within the grace period, then abort them as
 * worker-shutdown (their logs are still uploaded). A second signal halts: running tasks are
 * aborted and nothing more is waited for (no log upload, no report retries). */
export function handleSignals(
  lifecycle: Lifecycle,
  scheduler: Scheduler,
  halt: AbortController,
  graceSeconds: number,
  log: OperatorLog,
) {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!signalled) {
      signalled = true;
      log.info({ signal, graceSeconds, running: scheduler.runningCount }, 'draining');
      lifecycle.requestStop({ reason: 'signal', tasks: 'grace', detail: signal });
    } else {
      log.warn({ signal }, 'second signal: aborting running tasks now');
      halt.abort();
      lifecycle.requestStop({ reason: 'signal', tasks: 'now', detail: signal });
    }
  };
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  return {
    dispose() {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
    },
  };
}
