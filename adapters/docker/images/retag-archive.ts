// Rewrites a `docker save` archive as it streams past, entry by entry, so the engine loads it under
// dw-host's name: manifest.json gets RepoTags = [name]; `repositories` is dropped when there is a
// manifest, renamed when there is not. Only those two small files are held in memory; layers pass
// straight through with the stream's back-pressure. An archive with neither file is refused.
import type { Readable, Writable } from 'node:stream';
import { type Extract, extract, type Header, type Pack, pack } from 'tar-stream';
import { memberName, retagManifest, retagRepositories } from '../../../functions/images/archive-manifest.ts';

const METADATA_LIMIT = 1024 * 1024;

export interface RetaggedArchive {
  /** Write the decompressed archive here. */
  readonly input: Writable;
  /** The rewritten archive, for the engine's load. Errors (bad tar, unknown format) end it. */
  readonly output: Readable;
}

export function retagArchive(name: string): RetaggedArchive {
  const input = extract();
  const output = pack();
  copyEntries(input, output, name).then(
    () => output.finalize(),
    (error: unknown) => output.destroy(error as Error),
  );
  input.on('error', (error: Error) => output.destroy(error));
  // tar-stream's streams are streamx streams: Node-stream compatible (pipe, pipeline, events),
  // though not typed as Node's classes.
  return { input: input as unknown as Writable, output: output as unknown as Readable };
}

type Entry = AsyncIterable<Buffer> & {
  header: Header;
  pipe(sink: unknown): unknown;
  on(e: 'error', f: (e: Error) => void): unknown;
};

async function copyEntries(input: Extract, output: Pack, name: string) {
  let manifestSeen = false;
  let repositories: string | null = null;
  for await (const source of input) {
    const entry = source as unknown as Entry;
    const member = memberName(entry.header.name);
    if (member === 'manifest.json') {
      manifestSeen = true;
      await addEntry(output, entry.header, Buffer.from(retagManifest(await readSmall(entry, member), name)));
    } else if (member === 'repositories') {
      repositories = await readSmall(entry, member);
    } else {
      await copyEntry(entry, output);
    }
  }
  if (manifestSeen) return;
  if (repositories === null) throw new Error('Unknown docker archive format: neither manifest.json nor repositories');
  await addEntry(output, { name: 'repositories', mode: 0o644 }, Buffer.from(retagRepositories(repositories, name)));
}

async function readSmall(entry: AsyncIterable<Buffer>, member: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of entry) {
    size += (chunk as Buffer).length;
    if (size > METADATA_LIMIT) throw new Error(`${member} is larger than ${METADATA_LIMIT} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function addEntry(output: Pack, header: Partial<Header> & Pick<Header, 'name'>, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = output.entry({ ...header, size: body.length }, body, (error) => (error ? reject(error) : resolve()));
    sink.on('error', reject);
  });
}

function copyEntry(entry: Entry, output: Pack): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = output.entry(entry.header, (error) => (error ? reject(error) : resolve()));
    entry.on('error', reject);
    // Destroying the pack (a broken download) ends the entry being written with that error.
    sink.on('error', reject);
    entry.pipe(sink);
  });
}
