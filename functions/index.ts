// The built-in stage functions. A worker pool may replace any of them with `--functions DIR`.
import { claim } from './claim.ts';
import { resolve } from './resolve.ts';
import { run } from './run.ts';
import type { StageFunctions } from './types.ts';
import { upload } from './upload.ts';

export const defaultFunctions: StageFunctions = Object.freeze({ claim, run, upload, resolve });
