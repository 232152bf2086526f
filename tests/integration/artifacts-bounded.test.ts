// uploadPayloadArtifacts on a real container: at most a few artifacts at once, and none started
// after the task's signal is aborted.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { LocalArtifactStore } from '../../adapters/local/local-artifacts.ts';
import { TaskAbort } from '../../functions/abort.ts';
import { uploadPayloadArtifacts } from '../../functions/artifacts/payload-artifacts.ts';
import type { ArtifactMeta, PutOptions, TaskContainer } from '../../functions/types.ts';
import { scratch } from '../harness/cli.ts';
import { uploadContext } from '../harness/upload-context.ts';

const work = scratch();
after(() => work.dispose());

/** Holds every putFile until the test releases it (or the call's signal aborts). */
class HoldingStore extends LocalArtifactStore {
  readonly events = new EventEmitter();
  readonly #held: Array<() => void> = [];

  get held(): number {
    return this.#held.length;
  }

  override async putFile(name: string, body: Readable, meta: ArtifactMeta, options: PutOptions = {}) {
    await new Promise<void>((resolve, reject) => {
      this.#held.push(resolve);
      options.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true });
      this.events.emit('held');
    });
    return super.putFile(name, body, meta, options);
  }

  releaseOne(): void {
    this.#held.shift()?.();
  }

  /** Resolves once `count` calls are held. */
  waitForHeld(count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.held < count) return;
        this.events.off('held', check);
        resolve();
      };
      this.events.on('held', check);
      check();
    });
  }
}

/** Counts the artifacts whose reading began: readPath is the first thing an artifact's upload does. */
function counting(container: TaskContainer) {
  const counter = { started: 0 };
  const readPath = container.readPath.bind(container);
  container.readPath = (path: string) => {
    counter.started += 1;
    return readPath(path);
  };
  return counter;
}

const SIX_FILES = Object.fromEntries(
  [1, 2, 3, 4, 5, 6].map((n) => [`public/f${n}.txt`, { type: 'file' as const, path: `/work/f${n}.txt` }]),
);
const SCRIPT = 'mkdir /work; for n in 1 2 3 4 5 6; do echo $n > /work/f$n.txt; done';
const expires = () => new Date(Date.now() + 3600_000).toISOString();

test('at most 4 artifacts are read and uploaded at once', async () => {
  const store = new HoldingStore(`${work.dir}/bounded`);
  const { ctx, start } = uploadContext(`bounded-${process.pid}`, store);
  const container = await start(SCRIPT);
  try {
    await container.wait();
    const counter = counting(container);
    const uploading = uploadPayloadArtifacts(SIX_FILES, expires(), container, ctx);
    await store.waitForHeld(4);
    // All at once would have begun reading all six before any upload could start.
    assert.equal(counter.started, 4);
    store.releaseOne();
    await store.waitForHeld(4);
    assert.equal(counter.started, 5, 'one finished, one more began');
    for (let released = 0; released < 5; released++) {
      await store.waitForHeld(1);
      store.releaseOne();
    }
    const uploaded = await uploading;
    assert.deepEqual([uploaded.failed, uploaded.records.length, counter.started], [false, 6, 6]);
  } finally {
    await container.remove();
  }
});

test('after an abort, in-flight uploads stop and no further artifact is started', async () => {
  const store = new HoldingStore(`${work.dir}/aborted`);
  const cancel = new AbortController();
  const { ctx, start, logText } = uploadContext(`aborted-${process.pid}`, store, cancel.signal);
  const container = await start(SCRIPT);
  try {
    await container.wait();
    const counter = counting(container);
    const uploading = uploadPayloadArtifacts(SIX_FILES, expires(), container, ctx);
    await store.waitForHeld(4);
    cancel.abort(new TaskAbort({ kind: 'canceled' }));
    const uploaded = await uploading;
    assert.equal(counter.started, 4, 'the last two were never begun');
    assert.deepEqual([uploaded.failed, uploaded.records], [true, []]);
    assert.match(logText(), /\[taskcluster:error\] Uploading artifacts stopped: the task was aborted \(canceled\)\./);
    assert.doesNotMatch(logText(), /Error uploading/, 'an abort is not reported as each artifact failing');
  } finally {
    await container.remove();
  }
});
