// Structure-aware mutations of the real docker-worker payloads in tests/fixtures/payloads/.
// Case `index` of run `seed` is a pure function of the two numbers, so one failing case replays
// on its own: DW_FUZZ_SEED=<seed> DW_FUZZ_CASE=<index>. A case is the text of a task file, because
// some mutations only JSON text can carry (duplicate keys, 1e999, nesting deeper than
// JSON.stringify can write).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUSYBOX_IMAGE } from './images.ts';
import {
  hugeString,
  type Json,
  KEYS_THAT_SHADOW_OBJECT,
  ODD_NUMBERS,
  ODD_STRINGS,
  RAW_NUMBERS,
  Rng,
  RUNNABLE_COMMANDS,
} from './payload-fuzz-values.ts';
import {
  isObject,
  type JsonObject,
  type MutationTools,
  type Mutator,
  RUN_SAFE,
  SCHEMA_AWARE,
  setOwn,
} from './payload-mutators.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/payloads/', import.meta.url));

export interface FuzzCase {
  readonly seed: number;
  readonly index: number;
  readonly fixture: string;
  /** Names the local test image with a short command: the run path is fuzzed too. */
  readonly runnable: boolean;
  readonly mutations: readonly string[];
  /** The task file: `{...task fields, payload}`, as JSON text. */
  readonly text: string;
}

type Fixture = { name: string; task: JsonObject; payload: Json };

let fixtures: Fixture[] | undefined;

function loadFixtures(): Fixture[] {
  fixtures ??= readdirSync(FIXTURES)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const document = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as JsonObject;
      if (!('payload' in document)) return { name, task: {}, payload: document };
      const { payload, ...task } = document;
      return { name, task, payload: payload as Json };
    });
  return fixtures;
}

/** A fresh seed for a run that was not given one. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

export function fuzzCase(seed: number, index: number): FuzzCase {
  const rng = new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
  const fixture = rng.pick(loadFixtures());
  const mutation = new Mutation(rng, structuredClone(fixture.payload));
  const runnable = rng.chance(0.3);
  if (runnable) mutation.makeRunnable();
  // Schema-aware mutations mostly keep the payload valid, so the layers after validation are
  // reached; general ones mostly break it, so validation itself is fuzzed.
  const rounds = runnable ? rng.int(3) : 1 + rng.int(3);
  for (let i = 0; i < rounds; i++) {
    if (runnable && !rng.chance(0.15)) mutation.schemaAware(RUN_SAFE);
    else if (rng.chance(0.65)) mutation.schemaAware(SCHEMA_AWARE);
    else mutation.general();
  }
  return {
    seed,
    index,
    fixture: fixture.name,
    runnable,
    mutations: mutation.applied,
    text: mutation.serialize(fixture.task),
  };
}

/** What a failure message needs to replay and read the case. */
export function describeCase(c: FuzzCase): string {
  const folded = fold(c.text);
  const text = folded.length > 2000 ? `${folded.slice(0, 2000)}… (${folded.length} chars)` : folded;
  const mutations = fold(c.mutations.join('; '));
  return [
    `payload fuzz case ${c.index} of seed ${c.seed} (replay: DW_FUZZ_SEED=${c.seed} DW_FUZZ_CASE=${c.index})`,
    `fixture ${c.fixture}${c.runnable ? ', runnable' : ''}; mutations: ${mutations}`,
    `task file: ${JSON.stringify(text)}`,
  ].join('\n');
}

/** Deep nesting and huge strings are long runs of one short unit: shown as «unit»×count. */
function fold(text: string): string {
  return text.replace(/(.{1,8}?)\1{15,}/gs, (run, unit: string) => `«${unit}»×${run.length / unit.length}`);
}

class Mutation implements MutationTools {
  readonly applied: string[] = [];
  readonly #rng: Rng;
  #payload: Json;
  /** Text spliced in at serialization: raw JSON that JSON.stringify cannot produce. */
  readonly #raw: string[] = [];
  /** Keys appended to the payload's text after its own: JSON.parse keeps the last one. */
  readonly #duplicateKeys: Array<[string, Json]> = [];

  constructor(rng: Rng, payload: Json) {
    this.#rng = rng;
    this.#payload = payload;
  }

  get rng(): Rng {
    return this.#rng;
  }

  makeRunnable(): void {
    const payload = isObject(this.#payload) ? this.#payload : {};
    const rng = this.#rng;
    payload['image'] = rng.chance(0.7) ? BUSYBOX_IMAGE : { type: 'docker-image', name: BUSYBOX_IMAGE };
    payload['maxRunTime'] = 1 + rng.int(3);
    payload['command'] = structuredClone(rng.pick(RUNNABLE_COMMANDS));
    for (const field of ['cache', 'capabilities', 'features', 'artifacts']) {
      if (rng.chance(0.8)) delete payload[field];
    }
    if (rng.chance(0.03)) {
      // A limit past setTimeout's range must not kill the task at once.
      payload['maxRunTime'] = rng.pick([2_147_484, 1e9, 2 ** 31]);
      payload['command'] = ['true'];
    }
    this.#payload = payload;
    this.applied.push(`runnable: ${JSON.stringify(payload['command'])}, maxRunTime ${payload['maxRunTime']}`);
  }

  schemaAware(mutators: readonly Mutator[]): void {
    if (isObject(this.#payload)) this.applied.push(this.#rng.pick(mutators)(this, this.#payload));
    else this.general();
  }

  /** Any node at any depth: dropped, duplicated, retyped, made odd, nested deep, or shadowed. */
  general(): void {
    let done = this.#generalStep();
    while (done === null) done = this.#generalStep();
    this.applied.push(done);
  }

  /** One general mutation, described; null when the drawn one does not apply to the drawn node. */
  #generalStep(): string | null {
    const rng = this.#rng;
    const node = rng.pick(nodesOf(this.#payload));
    const where = node.path.join('.') || '(payload)';
    const replace = (value: Json, what: string) => {
      if (node.parent === null) this.#payload = value;
      else (node.parent as Record<string | number, Json>)[node.key] = value;
      return `${what} ${where}`;
    };
    switch (rng.int(6)) {
      case 0:
        if (node.parent === null) return null;
        if (Array.isArray(node.parent)) node.parent.splice(node.key as number, 1);
        else delete node.parent[node.key];
        return `drop ${where}`;
      case 1:
        return this.#duplicate(node.value, where);
      case 2:
        return replace(this.otherType(node.value), 'retype');
      case 3:
        return replace(this.oddValue(), 'odd value at');
      case 4:
        return replace(this.deep(), 'deep nesting at');
      default: {
        const target = isObject(node.value) ? node.value : isObject(node.parent) ? node.parent : null;
        if (target === null) return null;
        const key = rng.pick(KEYS_THAT_SHADOW_OBJECT);
        setOwn(target, key, rng.chance(0.5) ? { polluted: true } : this.oddValue());
        return `key ${key} at ${where}`;
      }
    }
  }

  #duplicate(value: Json, where: string): string {
    const rng = this.#rng;
    if (Array.isArray(value) && value.length > 0) {
      value.push(structuredClone(rng.pick(value)));
      return `duplicate an item of ${where}`;
    }
    if (isObject(value) && Object.keys(value).length > 0) {
      const key = rng.pick(Object.keys(value));
      const twin = rng.pick([key.toUpperCase(), `${key} `, `${key}\u200b`, key.normalize('NFD'), `${key}2`]);
      setOwn(value, twin, structuredClone(value[key] as Json));
      return `duplicate ${where}.${key} as ${JSON.stringify(twin)}`;
    }
    const key = rng.pick(['image', 'maxRunTime', 'command', 'env', 'artifacts', 'log', 'features']);
    this.#duplicateKeys.push([key, this.oddValue()]);
    return `duplicate key "${key}" in the payload's text, the last one odd`;
  }

  oddValue(): Json {
    const rng = this.#rng;
    switch (rng.int(9)) {
      case 0:
        return rng.pick(ODD_STRINGS);
      case 1:
        return hugeString(rng);
      case 2:
        return rng.pick(ODD_NUMBERS);
      case 3:
        return this.raw(rng.pick(RAW_NUMBERS));
      case 4:
        return rng.chance(0.5) ? rng.pick([true, false]) : null;
      case 5:
        return [this.oddValue(), rng.pick(ODD_STRINGS)];
      case 6:
        return { [rng.pick(ODD_STRINGS)]: rng.pick(ODD_STRINGS) };
      case 7:
        return rng.pick([[], {}]);
      default:
        return this.deep();
    }
  }

  otherType(value: Json): Json {
    const type = (v: Json) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
    const candidates: Json[] = [0, -1, 1.5, true, null, '', 'x', [], {}, ['a', 1], { a: 1 }];
    return this.#rng.pick(candidates.filter((c) => type(c) !== type(value)));
  }

  /** Nesting far deeper than any payload: a recursive validator or clone would overflow. */
  deep(): Json {
    const depth = this.#rng.pick([64, 1_000, 20_000]);
    const [open, close] = this.#rng.chance(0.5) ? ['[', ']'] : ['{"a":', '}'];
    return this.raw(`${open.repeat(depth)}1${close.repeat(depth)}`);
  }

  raw(text: string): Json {
    this.#raw.push(text);
    return `@@raw:${this.#raw.length - 1}@@`;
  }

  serialize(task: JsonObject): string {
    let payload = JSON.stringify(this.#payload);
    if (this.#duplicateKeys.length > 0 && payload.startsWith('{') && payload !== '{}') {
      const extra = this.#duplicateKeys.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`);
      payload = `${payload.slice(0, -1)},${extra.join(',')}}`;
    }
    const text = `${JSON.stringify(task).slice(0, -1)}${Object.keys(task).length > 0 ? ',' : ''}"payload":${payload}}`;
    return text.replace(/"@@raw:(\d+)@@"/g, (_, i: string) => this.#raw[Number(i)] as string);
  }
}

interface TreeNode {
  readonly value: Json;
  readonly parent: Json[] | JsonObject | null;
  readonly key: string | number;
  readonly path: ReadonlyArray<string | number>;
}

/** Every node of the tree, the root first (iterative: trees here may be deep). */
function nodesOf(root: Json): TreeNode[] {
  const nodes: TreeNode[] = [];
  const pending: TreeNode[] = [{ value: root, parent: null, key: '', path: [] }];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    nodes.push(node);
    const { value, path } = node;
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) pending.push({ value: v, parent: value, key: i, path: [...path, i] });
    } else if (isObject(value))
      for (const [k, v] of Object.entries(value)) pending.push({ value: v, parent: value, key: k, path: [...path, k] });
  }
  return nodes;
}
