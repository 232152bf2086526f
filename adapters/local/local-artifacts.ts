// ArtifactStore on a directory: each artifact at DIR/<artifact name>.
import { createWriteStream } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactMeta, ArtifactRecord, ArtifactStore, ErrorArtifactReason } from '../../functions/types.ts';

export class LocalArtifactStore implements ArtifactStore {
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
  }

  async putFile(name: string, body: Readable, meta: ArtifactMeta): Promise<ArtifactRecord> {
    const path = await this.#prepare(name);
    await pipeline(body, createWriteStream(path));
    return { name, storageType: 'file', contentType: meta.contentType, path };
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

  /** Artifact names come from tasks: one that would escape the directory is refused. */
  #pathOf(name: string): string {
    const path = resolve(this.#root, name);
    if (!path.startsWith(this.#root + sep)) throw new Error(`artifact name "${name}" leaves the output directory`);
    return path;
  }
}
