// Rewrites a `docker save` archive as it streams past, so the engine loads it under dw-host's name:
// manifest.json gets RepoTags = [name]; `repositories` is dropped when there is a manifest, renamed
// when there is not (reference §4.3). Every other byte is passed on as a slice of the chunk it
// came in, never unpacked or copied: layers cost nothing but the header checks. An archive with
// neither file, a header with a bad checksum, or a truncated archive ends the stream with an error.
import { Transform, type TransformCallback } from 'node:stream';
import { memberName, retagManifest, retagRepositories } from '../../../functions/images/archive-manifest.ts';
import { BLOCK, overriddenName, padding, parseTarHeader, tarFile } from '../../../functions/images/tar-header.ts';
import { ByteQueue } from './byte-queue.ts';

const METADATA_LIMIT = 1024 * 1024;
const RENAMED = new Set(['manifest.json', 'repositories']);

type State =
  | { readonly kind: 'header' }
  /** A pax or GNU long-name header's data, which may name the next member. */
  | { readonly kind: 'meta'; readonly block: Buffer; readonly type: string; readonly size: number }
  | { readonly kind: 'pass'; left: number }
  | { readonly kind: 'capture'; readonly member: string; readonly size: number }
  | { readonly kind: 'trailer' };

export class RetagArchive extends Transform {
  readonly #name: string;
  readonly #input = new ByteQueue();
  #state: State = { kind: 'header' };
  /** Extension headers seen, held until we know whether their member is passed on or replaced. */
  #held: Buffer[] = [];
  #nextName: string | null = null;
  #manifest = false;
  #repositories: string | null = null;
  #members = 0;

  constructor(name: string) {
    super();
    this.#name = name;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#input.push(chunk);
    try {
      while (this.#step());
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.#state.kind !== 'trailer') {
        // Some writers omit the two zero blocks; anything else missing is a truncated archive.
        if (this.#state.kind !== 'header' || this.#input.length > 0 || this.#members === 0) {
          throw new Error('Unexpected end of data: the image archive is truncated');
        }
        this.#finish();
        this.push(Buffer.alloc(2 * BLOCK));
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** Consumes what it can of the input; false when it needs more. */
  #step(): boolean {
    const state = this.#state;
    switch (state.kind) {
      case 'header':
        return this.#input.length >= BLOCK && this.#header(this.#input.take(BLOCK));
      case 'meta': {
        const total = state.size + padding(state.size);
        if (state.size > METADATA_LIMIT) throw new Error('tar extension header is too large');
        if (this.#input.length < total) return false;
        const data = this.#input.take(total);
        this.#nextName = overriddenName(state.type, data.subarray(0, state.size)) ?? this.#nextName;
        this.#held.push(state.block, data);
        this.#state = { kind: 'header' };
        return true;
      }
      case 'pass': {
        if (this.#input.length === 0) return false;
        const slices = this.#input.takeSlices(state.left);
        for (const slice of slices) {
          state.left -= slice.length;
          this.push(slice);
        }
        if (state.left === 0) this.#state = { kind: 'header' };
        return state.left === 0;
      }
      case 'capture':
        return this.#capture(state.member, state.size);
      case 'trailer':
        for (const slice of this.#input.takeSlices(this.#input.length)) this.push(slice);
        return false;
    }
  }

  #header(block: Buffer): boolean {
    const header = parseTarHeader(block);
    if (header === null) {
      this.#finish();
      this.push(block);
      this.#state = { kind: 'trailer' };
      return true;
    }
    if (header.type === 'x' || header.type === 'L') {
      this.#state = { kind: 'meta', block, type: header.type, size: header.size };
      return true;
    }
    const member = memberName(this.#nextName ?? header.name);
    this.#nextName = null;
    this.#members++;
    const held = this.#held;
    this.#held = [];
    if (RENAMED.has(member) && (header.type === '0' || header.type === '')) {
      if (header.size > METADATA_LIMIT) throw new Error(`${member} is larger than ${METADATA_LIMIT} bytes`);
      this.#state = { kind: 'capture', member, size: header.size };
      return true;
    }
    for (const bytes of held) this.push(bytes);
    this.push(block);
    this.#state = { kind: 'pass', left: header.size + padding(header.size) };
    return true;
  }

  #capture(member: string, size: number): boolean {
    const total = size + padding(size);
    if (this.#input.length < total) return false;
    const text = this.#input.take(total).subarray(0, size).toString('utf8');
    if (member === 'manifest.json') {
      this.#manifest = true;
      this.push(tarFile('manifest.json', Buffer.from(retagManifest(text, this.#name)), Date.now() / 1000));
    } else {
      this.#repositories = text;
    }
    this.#state = { kind: 'header' };
    return true;
  }

  /** At the end of the members: the renamed `repositories` of a manifest-less archive. */
  #finish(): void {
    if (this.#manifest) return;
    if (this.#repositories === null) {
      throw new Error('Unknown docker archive format: neither manifest.json nor repositories');
    }
    this.push(
      tarFile('repositories', Buffer.from(retagRepositories(this.#repositories, this.#name)), Date.now() / 1000),
    );
  }
}
