// The streaming tar rewrite: manifest.json retagged, `repositories` dropped or renamed, every other
// member passed through byte for byte (long pax names included), broken archives refused.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { extract, pack } from 'tar-stream';
import { RetagArchive } from '../../adapters/docker/images/retag-archive.ts';

async function archive(entries: Array<[string, string]>): Promise<Buffer> {
  const packer = pack();
  for (const [name, body] of entries) packer.entry({ name }, body);
  packer.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of packer) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function rewrite(input: Buffer, chunk: number): Promise<Map<string, string>> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) pieces.push(input.subarray(i, i + chunk));
  const output: Buffer[] = [];
  for await (const piece of Readable.from(pieces).pipe(new RetagArchive('abc:latest'))) output.push(piece as Buffer);
  const members = new Map<string, string>();
  const reader = extract();
  const done = (async () => {
    for await (const entry of reader) {
      let body = '';
      for await (const part of entry) body += String(part);
      members.set(entry.header.name, body);
    }
  })();
  reader.end(Buffer.concat(output));
  await done;
  return members;
}

const longName = `${'layer-'.repeat(30)}/layer.tar`;

test('manifest.json is retagged, repositories dropped, layers passed through unchanged, any chunking', async () => {
  const input = await archive([
    [longName, 'layer bytes'.repeat(100)],
    ['manifest.json', JSON.stringify([{ Config: 'c.json', RepoTags: ['evil/overwrite:latest'], Layers: [longName] }])],
    ['repositories', '{"evil/overwrite":{"latest":"123"}}'],
  ]);
  for (const chunk of [1, 100, 513, input.length]) {
    const members = await rewrite(input, chunk);
    assert.equal(members.get(longName), 'layer bytes'.repeat(100));
    assert.deepEqual(JSON.parse(members.get('manifest.json') ?? ''), [
      { Config: 'c.json', RepoTags: ['abc:latest'], Layers: [longName] },
    ]);
    assert.equal(members.has('repositories'), false);
  }
});

test('an archive with only repositories (v1.0) gets it renamed; neither file is an unknown format', async () => {
  const legacy = await archive([
    ['id1/layer.tar', 'x'],
    ['./repositories', '{"old":{"v1":"id1"}}'],
  ]);
  assert.deepEqual(JSON.parse((await rewrite(legacy, 64)).get('repositories') ?? ''), { abc: { latest: 'id1' } });
  await assert.rejects(rewrite(await archive([['id1/layer.tar', 'x']]), 64), /Unknown docker archive format/);
});

test('a corrupt header, a truncated archive and two images are refused', async () => {
  const good = await archive([['manifest.json', '[{}]']]);
  const corrupt = Buffer.from(good);
  corrupt[10] = 0x41;
  await assert.rejects(rewrite(corrupt, 512), /bad checksum/);
  await assert.rejects(rewrite(good.subarray(0, 700), 512), /truncated/);
  await assert.rejects(rewrite(await archive([['manifest.json', '[{},{}]']]), 512), /exactly one image/);
});
