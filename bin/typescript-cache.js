// Node strips TypeScript types with a WebAssembly module that takes ~45 ms to start in every
// process (docs/perf-notes.md: start-up is a large share of a short `dw-host run`), and its
// compile cache does not cover stripping. This keeps the stripped source of each of our .ts files,
// keyed by path, size and mtime, so a warm start never loads the stripper. Plain JS on purpose.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Beside the project's other tool caches; keyed by Node version, as the stripper may change.
// DW_TS_CACHE_DIR moves it (e.g. to a writable place when the install is read-only).
const CACHE_DIR = join(
  process.env.DW_TS_CACHE_DIR || fileURLToPath(new URL('../node_modules/.cache/dw-host-ts/', import.meta.url)),
  `node${process.versions.node}`,
);
/** Set once the cache cannot be written (read-only install, another owner): strip, never store. */
let unwritable = false;

export function cacheStrippedTypeScript() {
  if (typeof module.registerHooks !== 'function' || typeof module.stripTypeScriptTypes !== 'function') return;
  module.registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith('file:') || !url.endsWith('.ts') || url.includes('/node_modules/'))
        return nextLoad(url, context);
      return { format: 'module', source: strippedSource(fileURLToPath(url)), shortCircuit: true };
    },
  });
}

function strippedSource(path) {
  const { mtimeMs, size } = statSync(path);
  const key = createHash('sha256').update(`${path}\0${size}\0${mtimeMs}`).digest('hex');
  const cached = join(CACHE_DIR, `${key}.js`);
  try {
    return readFileSync(cached, 'utf8');
  } catch {
    // 'strip' keeps every line and column where it was, so stack traces point into the .ts file.
    const source = withoutExperimentalWarning(() =>
      module.stripTypeScriptTypes(readFileSync(path, 'utf8'), { mode: 'strip' }),
    );
    if (!unwritable) store(cached, source);
    return source;
  }
}

/** A cache that cannot be written only costs start-up time; it must never stop dw-host. */
function store(cached, source) {
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    const partial = `${cached}.${process.pid}`;
    writeFileSync(partial, source);
    renameSync(partial, cached);
  } catch (error) {
    unwritable = true;
    if (process.env.DW_TS_CACHE_DEBUG)
      process.stderr.write(`dw-host: TypeScript cache not written: ${error.message}\n`);
  }
}

/** Node flags stripTypeScriptTypes as experimental once per process; that is not the user's concern. */
function withoutExperimentalWarning(strip) {
  const emitWarning = process.emitWarning;
  process.emitWarning = (warning, ...rest) => {
    if (!String(warning).includes('stripTypeScriptTypes')) emitWarning.call(process, warning, ...rest);
  };
  try {
    return strip();
  } finally {
    process.emitWarning = emitWarning;
  }
}
