// `--functions DIR`: a worker pool's own claim/run/upload/resolve, each in DIR/<stage>.{ts,js,mjs}
// with a default export. Checked at start-up, so a bad module stops the host before any task.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defaultFunctions } from '../functions/index.ts';
import { STAGE_NAMES, type StageFunctions, type StageName } from '../functions/types.ts';

const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

export class FunctionsError extends Error {
  readonly code = 'DW_BAD_FUNCTIONS';
}

export async function loadFunctions(dir: string | undefined): Promise<StageFunctions> {
  if (dir === undefined) return defaultFunctions;
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new FunctionsError(`--functions ${dir}: not a directory`);
  const loaded: Partial<Record<StageName, unknown>> = {};
  for (const stage of STAGE_NAMES) {
    const file = EXTENSIONS.map((ext) => join(root, stage + ext)).find((candidate) => existsSync(candidate));
    if (file !== undefined) loaded[stage] = await importStage(file, stage);
  }
  if (Object.keys(loaded).length === 0) {
    throw new FunctionsError(
      `--functions ${dir}: no ${STAGE_NAMES.join('/')} module found (expected e.g. ${join(dir, 'run.ts')})`,
    );
  }
  return Object.freeze({ ...defaultFunctions, ...loaded }) as StageFunctions;
}

async function importStage(file: string, stage: StageName): Promise<unknown> {
  let module: Record<string, unknown>;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    throw new FunctionsError(`${file}: cannot be loaded: ${(error as Error).message}`);
  }
  const fn = module['default'];
  if (typeof fn !== 'function') {
    throw new FunctionsError(`${file}: must export a default function ${stage}(input, ctx), found ${describe(fn)}`);
  }
  if (fn.length > 2) {
    throw new FunctionsError(
      `${file}: ${stage} takes (input, ctx), but the exported function declares ${fn.length} parameters`,
    );
  }
  return fn;
}

function describe(value: unknown): string {
  if (value === undefined) return 'no default export';
  return value === null ? 'null' : typeof value;
}
