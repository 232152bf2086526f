// The odd values the payload fuzzer draws from: what a careless or hostile task author can put
// in a docker-worker payload. Each list targets a way a worker has gone wrong before: a field
// used as a path, a URL segment, an env entry or a timer, or a key used on a plain object.
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A seeded PRNG (mulberry32) with the few draws the fuzzer needs: the seed replays a case. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** A random subset, in random order. */
  some<T>(items: readonly T[]): T[] {
    return items.filter(() => this.chance(0.4)).sort(() => this.next() - 0.5);
  }
}

export const ODD_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\r\n',
  '\n[taskcluster:error] not really an error',
  '\u001b[31mred\u001b[0m\u001b[2J',
  '\u001b]0;title\u0007',
  '\u202eevil\u202c',
  '\ufeffbom',
  '\ud800',
  '\udfff',
  '😀',
  'é',
  '\u0085\u2028\u2029',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e3',
  '0x10',
  ' 5 ',
  '-0',
  'null',
  '%s%n%x',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell expansion, on purpose.
  '${HOME}$(id)`id`',
  "'; rm -rf / #",
  '../../etc/passwd',
  '/',
  '.',
  '..',
  '//',
  'C:\\Windows',
  '__proto__',
  'constructor',
];

export const ODD_NUMBERS: readonly number[] = [
  0,
  -1,
  1.5,
  -1.5,
  2 ** 31 - 1,
  2 ** 31,
  2_147_484,
  2 ** 32,
  2 ** 53,
  1e12,
  1e21,
  1e308,
  -1e308,
  5e-324,
];

/** Number literals only JSON text can carry: they parse to Infinity, -0, or lose precision. */
export const RAW_NUMBERS: readonly string[] = ['1e999', '-1e999', '-0', '1.0', '1E2', '9007199254740993', '0.1e-400'];

export const KEYS_THAT_SHADOW_OBJECT: readonly string[] = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '__defineGetter__',
  'valueOf',
];

export function hugeString(rng: Rng): string {
  const length = rng.pick([1024, 65_536, 1 << 20]);
  const unit = rng.pick(['x', 'é', '😀', '\u0000', 'line\n', '\u001b[0m']);
  return unit.repeat(Math.ceil(length / unit.length));
}

/** Never the test image itself: a fixture's own command could then run for its whole maxRunTime. */
export const IMAGE_NAMES: readonly string[] = [
  '',
  '..',
  '/',
  '.',
  'a//b',
  './busybox',
  '../../containers/json',
  '%2e%2e',
  'Ubuntu',
  'a b',
  'x?y=1',
  'x#y',
  'busybox\u0000',
  'é',
  'a:b:c',
  'ubuntu@sha256:bad',
  `ubuntu@sha256:${'a'.repeat(64)}`,
  `ubuntu@sha512:${'0'.repeat(64)}`,
  'localhost:5000/dw-test/absent:latest',
  '[::1]:5000/absent',
  'dw-test/absent:latest',
  `dw-test/${'a'.repeat(300)}`,
  `dw-test/busybox:${'t'.repeat(200)}`,
  'dw-test/busybox:-bad',
  'dw-test/busybox:LATEST',
];

export const ARTIFACT_NAMES: readonly string[] = [
  'public/ok.txt',
  '..',
  '../x',
  '../../../../etc/passwd',
  '/abs/x',
  '',
  '.',
  'public/../../x',
  'public/',
  'a/./b',
  'a//b',
  'public/\u0000',
  'public/line\nbreak',
  'public/é😀',
  `public/${'n'.repeat(300)}`,
  '__proto__',
  'constructor',
];

export const ARTIFACT_PATHS: readonly string[] = [
  '/etc/passwd',
  '/etc/passwd/',
  '/etc',
  '/etc/',
  '/',
  '',
  'etc/passwd',
  '../etc/passwd',
  '/etc/../etc/passwd',
  '/nope',
  '/proc/self/environ',
  '/dev/null',
  '/tmp/a\u0000b',
  '/tmp/new\nline',
  '//etc',
  '~',
];

export const LOG_NAMES: readonly string[] = [
  '',
  '..',
  '../x.log',
  '/abs/live.log',
  'public/logs/',
  'public/../../live.log',
  '.hidden',
  'no-extension',
  'a/b.log.txt',
  'public/\u0000.log',
  'public/é😀.log',
];

export const CACHE_NAMES: readonly string[] = ['a::b', '', '::', '../x', '/abs', 'a/b', 'ok-cache', '__proto__'];

export const ENV_NAMES: readonly string[] = [
  '',
  'A=B',
  '=',
  'A\u0000',
  '1LEADING_DIGIT',
  'PATH',
  'TASK_ID',
  'TASKCLUSTER_ROOT_URL',
  'lower_case',
  'É',
  ...KEYS_THAT_SHADOW_OBJECT,
];

export const FEATURE_NAMES: readonly string[] = [
  'artifacts',
  'localLiveLog',
  'bulkLog',
  'taskclusterProxy',
  'chainOfTrust',
  'interactive',
  'allowPtrace',
  'dind',
  'relengAPIProxy',
];

export const DEVICE_NAMES: readonly string[] = ['kvm', 'hostSharedMemory', 'loopbackAudio', 'loopbackVideo', 'gpu'];

/** Short commands for payloads that really run in the test image. */
export const RUNNABLE_COMMANDS: readonly Json[] = [
  ['true'],
  ['false'],
  ['/bin/sh', '-c', 'exit 3'],
  ['/bin/sh', '-c', 'echo out; echo err >&2'],
  ['/bin/sh', '-c', 'printf "\\033[31mred\\000\\377\\376 no newline"'],
  ['/bin/sh', '-c', 'sleep 5'],
  ['/bin/sh', '-c', 'mkdir -p /out/sub && echo x > /out/a.txt && echo y > /out/sub/b.txt'],
  ['/bin/sh', '-c', 'echo "$TASK_ID $A"; env | wc -l'],
  ['/nonexistent/binary'],
  [],
  [''],
];
