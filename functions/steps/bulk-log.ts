// bulkLog (payload.features.bulkLog, offered only where the worker config enables it, as in
// docker-worker): the whole task log, gzip-compressed as it streams to the store, as
// `public/logs/terminal_bulk.log.gz`. docker-worker sent those bytes as text/plain with
// Content-Encoding: gzip; the object service has no content encoding, so here the artifact is
// what its name says, a gzip file (application/gzip), whatever the storage.
import { pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import { abortReasonOf } from '../abort.ts';
import { messageOf } from '../errors.ts';
import { isOurs } from '../outcome.ts';
import { featureAsked } from './feature-asked.ts';
import type { RunStep } from './types.ts';

export const BULK_LOG = 'public/logs/terminal_bulk.log.gz';

export function bulkLogStep(): RunStep {
  return {
    name: 'bulk log',
    features: ['bulkLog'],
    async artifacts(result, _uploaded, ctx) {
      if (!featureAsked(result.claimed, 'bulkLog') || !isOurs(abortReasonOf(ctx.signal))) return [];
      const log = await ctx.log.finish();
      // A read or compression failure also destroys the gzip stream, which fails the put below.
      const gzipped = pipeline(log.open(), createGzip(), (error) => {
        if (error) ctx.warn(`compressing the bulk log of ${result.claimed.taskId} failed: ${messageOf(error)}`);
      });
      const meta = { contentType: 'application/gzip', expires: result.claimed.task.expires };
      return [await ctx.artifacts.putFile(BULK_LOG, gzipped, meta, { signal: ctx.signal })];
    },
  };
}
