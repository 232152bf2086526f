import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentTypeFor } from '../../functions/artifacts/content-type.ts';
import { backingLogName, directoryEntryName } from '../../functions/artifacts/names.ts';

test('backing log name: _backing before the last extension, as the schema describes', () => {
  assert.equal(backingLogName('public/logs/live.log'), 'public/logs/live_backing.log');
  assert.equal(backingLogName('apple/banana.log.txt'), 'apple/banana.log_backing.txt');
  assert.equal(backingLogName('live.log'), 'live_backing.log'); // docker-worker gave '/live_backing.log'
  assert.equal(backingLogName('public/logs/live'), 'public/logs/live_backing');
  assert.equal(backingLogName('public/.hidden'), 'public/.hidden_backing');
});

test('directory entries are named <artifact>/<path inside the directory>', () => {
  assert.equal(directoryEntryName('public', 'artifacts/a.txt'), 'public/a.txt');
  assert.equal(directoryEntryName('public/', 'artifacts/sub/b.bin'), 'public/sub/b.bin');
  assert.equal(directoryEntryName('public', 'artifacts'), null);
});

test('content type from the file name, octet-stream when unknown', async () => {
  assert.equal(await contentTypeFor('dir/index.html'), 'text/html');
  assert.equal(await contentTypeFor('a.txt'), 'text/plain');
  assert.equal(await contentTypeFor('build.tar.gz'), 'application/gzip');
  assert.equal(await contentTypeFor('blob.unknownext'), 'application/octet-stream');
  assert.equal(await contentTypeFor('noextension'), 'application/octet-stream');
});
