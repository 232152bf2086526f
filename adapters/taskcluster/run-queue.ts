// The queue's calls for one claimed run (reclaim, reports, artifacts), signed with that run's
// temporary credentials, on the routes of the queue's API reference. As signed requests rather
// than taskcluster-client: its HTTP stack (got, with http2) cost ~37 MiB of resident memory from a
// host's first task on, and more CPU a task than the request itself (lazy-client.ts).
import type { TaskCredentials } from '../../functions/types.ts';
import { apiUrl, type SignedCredentials, signedJsonRequest } from './signed-request.ts';

/** createArtifact's answer for an `s3` artifact: where to PUT the bytes. */
export interface S3ArtifactReply {
  readonly putUrl: string;
}

/** createArtifact's answer for an `object` artifact: the object service's upload to make, and the
 * credentials to make it with. */
export interface ObjectArtifactReply {
  readonly name: string;
  readonly projectId: string;
  readonly uploadId: string;
  readonly expires: string;
  readonly credentials: TaskCredentials;
}

export interface ReclaimReply {
  readonly takenUntil: string;
  readonly credentials: TaskCredentials;
}

export class RunQueue {
  readonly #rootUrl: string;
  readonly #credentials: SignedCredentials;

  constructor(rootUrl: string, credentials: SignedCredentials) {
    this.#rootUrl = rootUrl;
    this.#credentials = credentials;
  }

  reclaimTask(taskId: string, runId: number): Promise<ReclaimReply> {
    return this.#call('POST', ['task', taskId, 'runs', runId, 'reclaim']) as Promise<ReclaimReply>;
  }

  async reportCompleted(taskId: string, runId: number): Promise<void> {
    await this.#call('POST', ['task', taskId, 'runs', runId, 'completed']);
  }

  async reportFailed(taskId: string, runId: number): Promise<void> {
    await this.#call('POST', ['task', taskId, 'runs', runId, 'failed']);
  }

  async reportException(taskId: string, runId: number, payload: { reason: string }): Promise<void> {
    await this.#call('POST', ['task', taskId, 'runs', runId, 'exception'], payload);
  }

  /** The answer's shape depends on the request's storage type (S3ArtifactReply, ObjectArtifactReply). */
  createArtifact(taskId: string, runId: number, name: string, request: object): Promise<unknown> {
    return this.#call('POST', ['task', taskId, 'runs', runId, 'artifacts', name], request);
  }

  async finishArtifact(taskId: string, runId: number, name: string, payload: { uploadId: string }): Promise<void> {
    await this.#call('PUT', ['task', taskId, 'runs', runId, 'artifacts', name], payload);
  }

  /** Calls without input (reclaim, completed, failed) send no body, as taskcluster-client does. */
  #call(method: 'POST' | 'PUT', segments: ReadonlyArray<string | number>, payload?: object): Promise<unknown> {
    return signedJsonRequest(method, apiUrl(this.#rootUrl, 'queue', segments), this.#credentials, payload);
  }
}
