// The live log (docker-worker's localLiveLog): while the task runs, its log is served over HTTP at
// an unguessable URL, and the live log artifact (`payload.log`) is a `reference` to that URL; the
// upload stage turns it into the `link` to the backing log at the end. The server belongs to the
// host (one per process); this step only publishes the task's log file on it and withdraws it
// with the task's resources. A live log that cannot be served never fails the task: the backing
// log is what counts (docker-worker went on without one too).
import { LOG_CONTENT_TYPE } from '../artifacts/names.ts';
import { messageOf } from '../errors.ts';
import type { GrowingLog } from '../task-log/task-log.ts';
import type { Claimed } from '../types.ts';
import type { RunStep } from './types.ts';

/** The host's live log server. */
export interface LiveLogPublisher {
  /** Serves `log` at a fresh unguessable URL: every reader gets it from its first byte and follows
   * it until it ends. */
  publish(log: GrowingLog): Promise<PublishedLiveLog>;
}

export interface PublishedLiveLog {
  readonly url: string;
  /** Stops serving the log; readers still connected are cut off. */
  withdraw(): Promise<void>;
}

export interface LiveLogStepOptions {
  readonly publisher: LiveLogPublisher;
  /** Hears each task's URL: `dw-host run` prints it, the host logs it. */
  announce?(claimed: Claimed, url: string): void;
}

export function liveLogStep(options: LiveLogStepOptions): RunStep {
  return {
    name: 'live log',
    features: ['localLiveLog'],
    async prepare({ claimed, payload }, ctx) {
      if (payload.features?.['localLiveLog'] === false) return undefined;
      const log = ctx.log.follow();
      if (!log) {
        ctx.warn(`no live log for ${claimed.taskId}: its task log is not a file`);
        return undefined;
      }
      let published: PublishedLiveLog;
      try {
        published = await options.publisher.publish(log);
      } catch (error) {
        ctx.warn(`the live log of ${claimed.taskId} cannot be served: ${messageOf(error)}`);
        return undefined;
      }
      ctx.resources.defer(`live log of ${claimed.taskId}`, () => published.withdraw());
      options.announce?.(claimed, published.url);
      const meta = { contentType: LOG_CONTENT_TYPE, expires: claimed.task.expires };
      try {
        await ctx.artifacts.putReference(payload.log, published.url, meta, { signal: ctx.signal });
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        ctx.warn(`the live log artifact of ${claimed.taskId} could not be created: ${messageOf(error)}`);
      }
      return undefined;
    },
  };
}
