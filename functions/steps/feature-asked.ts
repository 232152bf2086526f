// Whether the task itself set `payload.features.<name>: true`. The validated payload has the
// schema's defaults filled in (`bulkLog: true` among them); docker-worker chose features before
// that, so a default never turned one on (reference docker-worker §2.1, §3.1).
import type { Claimed } from '../types.ts';

export function featureAsked(claimed: Claimed, name: string): boolean {
  const payload = claimed.task.payload as { features?: Record<string, unknown> } | null | undefined;
  return payload?.features?.[name] === true;
}
