// Live log readers for tests: a reader that follows the live log over HTTP(S), keeping what it
// got (or only its size and hash, for large logs), and lets the test wait until it has seen a
// given text or a given number of bytes.
import { createHash } from 'node:crypto';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { docker } from './docker.ts';

export interface LiveLogReader {
  readonly response: Promise<IncomingMessage>;
  /** Bytes received so far. */
  readonly received: number;
  /** What was received (only when `keep` was set). */
  text(): string;
  /** Resolves once the received text contains `text` (needs `keep`). */
  waitForText(text: string): Promise<void>;
  /** Resolves once `bytes` bytes have been received. */
  waitForBytes(bytes: number): Promise<void>;
  /** Resolves when the response ends normally: its size and sha256; rejects if it is cut off. */
  readonly ended: Promise<{ size: number; sha256: string }>;
  /** Stops reading (the server's socket buffer fills, and it must wait). */
  pause(): void;
  destroy(): void;
}

export function readLiveLog(url: string, options: { keep?: boolean; ca?: Buffer } = {}): LiveLogReader {
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  const waiters: Array<{ done: () => boolean; resolve: () => void }> = [];
  let received = 0;
  let res: IncomingMessage | undefined;
  const request = url.startsWith('https:')
    ? httpsGet(url, { agent: false, ...(options.ca ? { ca: options.ca } : {}) })
    : httpGet(url, { agent: false });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.on('response', resolve).on('error', reject);
  });
  const ended = response.then(
    (incoming) =>
      new Promise<{ size: number; sha256: string }>((resolve, reject) => {
        res = incoming;
        incoming.on('data', (chunk: Buffer) => {
          received += chunk.length;
          hash.update(chunk);
          if (options.keep) chunks.push(chunk);
          for (const waiter of waiters.filter((w) => w.done())) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        });
        incoming.on('end', () => resolve({ size: received, sha256: hash.digest('hex') }));
        incoming.on('aborted', () => reject(new Error(`the live log was cut off after ${received} bytes`)));
        incoming.on('error', reject);
      }),
  );
  const text = () => Buffer.concat(chunks).toString('utf8');
  const waitFor = (done: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve();
      waiters.push({ done, resolve });
      ended.then(
        () => (done() ? resolve() : reject(new Error(`the live log ended after ${received} bytes, not as awaited`))),
        reject,
      );
    });
  return {
    response,
    get received() {
      return received;
    },
    text,
    waitForText: (wanted) => waitFor(() => text().includes(wanted)),
    waitForBytes: (bytes) => waitFor(() => received >= bytes),
    ended,
    pause: () => res?.pause(),
    destroy: () => request.destroy(),
  };
}

/** Runs `touch <path>` in the task's running container: the tests' way of letting a task go on. */
export async function touchInContainer(containerId: string, path: string): Promise<void> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: ['touch', path] });
  const stream = await exec.start({});
  await new Promise<void>((resolve, reject) => stream.on('end', resolve).on('error', reject).resume());
}

/** A shell loop waiting for `path` to exist: the task's side of `touchInContainer`. */
export const waitForFile = (path: string) => `while [ ! -e ${path} ]; do sleep 0.05; done`;
