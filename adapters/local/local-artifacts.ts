// ArtifactStore on a directory: each artifact at DIR/<artifact name>.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DwError } from '../../functions/errors.ts';
import type {
  ArtifactMeta,
  ArtifactRecord,
  ArtifactStore,
  ErrorArtifactReason,
  PutOptions,
} from '../../functions/types.ts';

export class LocalArtifactStore implements ArtifactStore {
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
  }

  async putFile(name: string, body: Readable, meta: ArtifactMeta, options: PutOptions = {}): Promise<ArtifactRecord> {
    const path = await this.#prepare(name);
    const { signal } = options;
    // Hashed on the way to the file, as the queue's store does: chain of trust lists it.
    const sha256 = createHash('sha256');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sha256.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(body, hashing, createWriteStream(path), signal ? { signal } : {});
    } catch (error) {
      // pipeline rejects with an AbortError: the caller wants the signal's own reason (a TaskAbort).
      throw signal?.aborted ? signal.reason : error;
    }
    return { name, storageType: 'file', contentType: meta.contentType, path, sha256: sha256.digest('hex') };
  }

  /** No queue to redirect from: the record says where the live log was served. */
  async putReference(name: string, url: string, meta: ArtifactMeta): Promise<ArtifactRecord> {
    return { name, storageType: 'reference', contentType: meta.contentType, url };
  }

  async putError(name: string, reason: ErrorArtifactReason, message: string): Promise<ArtifactRecord> {
    return { name, storageType: 'error', reason, message };
  }

  async putLink(name: string, target: string): Promise<ArtifactRecord> {
    const path = await this.#prepare(name);
    const targetPath = this.#pathOf(target);
    await rm(path, { force: true });
    await symlink(relative(dirname(path), targetPath), path);
    return { name, storageType: 'link', path };
  }

  async #prepare(name: string): Promise<string> {
    const path = this.#pathOf(name);
    await mkdir(dirname(path), { recursive: true });
    return path;
  }

  /** Artifact names come from tasks: always under the directory (a leading `/` included); one
   * whose `..` would leave it is refused. (functions/ makes such names error artifacts first.) */
  #pathOf(name: string): string {
    const path = join(this.#root, name);
    if (!path.startsWith(this.#root + sep))
      throw new DwError('DW_UPLOAD_REFUSED', `artifact name "${name}" leaves the output directory`);
    return path;
  }
}
