// The floor under `dw-host run`: Node starting as bin/dw-host does (both caches), dw-host's Docker
// client, and the engine calls a trivial task needs (create with a TTY, attach, start, wait,
// remove), nothing else. What separates this from `docker run --rm` no work inside dw-host removes.
// Plain JS, as bin/dw-host: Node's own TypeScript stripping would cost this process ~45 ms.
//   node bench/engine-floor.js IMAGE   (run by bench/run-vs-docker.ts)
import module from 'node:module';
import { cacheStrippedTypeScript } from '../bin/typescript-cache.js';

module.enableCompileCache?.();
cacheStrippedTypeScript();
const { dockerClient } = await import('../adapters/docker/client.ts');
const docker = dockerClient();
const container = await docker.createContainer({
  Image: process.argv[2] ?? '',
  Cmd: ['true'],
  Tty: true,
  AttachStdout: true,
  AttachStderr: true,
});
const stream = await container.attach({ stream: true, stdout: true, stderr: true });
stream.pipe(process.stdout, { end: false });
await container.start();
const { StatusCode } = await container.wait();
await container.remove({ force: true, v: true });
process.exitCode = StatusCode;
