// Task images: dw-host's streamed load (HTTP → zstd → tar rewrite → engine) side by side with
// `curl -L <queue URL> | zstd -d | docker load`, the peak RSS of the process doing dw-host's load,
// and a second task's time to ready once the image is there. Not a test: it prints figures.
//   node bench/images.ts [N=3] [randomMB=200] [textMB=130]
// The loads run in a child process (`--child`), so its peak RSS is the loader's alone; the test
// queue and the artifact file server stay in this one.
import { execFile, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';
import { DockerImageProvider } from '../adapters/docker/images/docker-image-provider.ts';
import { taskArtifacts } from '../adapters/taskcluster/task-artifacts.ts';
import { taskImageName } from '../functions/images/task-image-name.ts';
import { docker } from '../tests/harness/docker.ts';
import { imageContext } from '../tests/harness/image-context.ts';
import { BUSYBOX_IMAGE, ensureTestImages } from '../tests/harness/images.ts';
import { ArtifactFileServer, compress, publishArtifactTask, tempDir } from '../tests/harness/task-images.ts';
import { TestQueue } from '../tests/harness/test-queue/server.ts';

const run = promisify(execFile);
interface Measured {
  readonly firstMs: number;
  readonly secondMs: number;
  /** CPU time (user + system, all threads) of the loader process during the first load. */
  readonly cpuMs: number;
  readonly maxRssMiB: number;
  /** RSS once the host's modules are loaded, before the image. */
  readonly baseRssMiB: number;
}
const PATH = 'public/image.tar.zst';

const CHILD = process.env['DW_BENCH_IMAGES_CHILD'];
if (CHILD) {
  const [rootUrl = '', taskId = ''] = CHILD.split(' ');
  await child(rootUrl, taskId);
} else {
  await main(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 200), Number(process.argv[4] ?? 130));
}

/** In the child: load the task image as a task would, twice; print timings and peak RSS. The child
 * starts as bin/dw-host does (compile cache, cached stripped TypeScript) and loads the host's own
 * modules, so its RSS is a host's, not a bare script's. */
async function child(rootUrl: string, taskId: string): Promise<void> {
  await import('../host/cli.ts');
  const baseRssMiB = process.memoryUsage().rss / 2 ** 20;
  const provider = await DockerImageProvider.open({
    registry: { registries: {}, defaultRegistry: 'registry.hub.docker.com' },
    stateDir: await tempDir(),
  });
  const artifacts = taskArtifacts({
    rootUrl,
    credentials: () => ({ clientId: 'bench/task', accessToken: 'bench-token-0123456789' }),
    taskScopes: [],
  });
  const source = { kind: 'task-image', taskId, path: PATH } as const;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const first = await provider.ensure(source, imageContext(artifacts));
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  await provider.ensure(source, imageContext(artifacts));
  const t2 = performance.now();
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      firstMs: t1 - t0,
      secondMs: t2 - t1,
      cpuMs: (cpu.user + cpu.system) / 1000,
      maxRssMiB,
      baseRssMiB,
      id: first.id,
    }),
  );
}

async function main(n: number, randomMB: number, textMB: number): Promise<void> {
  await ensureTestImages();
  const dir = await tempDir();
  const { name, tar } = await bigImage(dir, randomMB, textMB);
  const zst = await compress(tar, 'tar.zst');
  console.log(
    `image: ${(statSync(tar).size / 1e6).toFixed(0)} MB tar, ${(statSync(zst).size / 1e6).toFixed(0)} MB .tar.zst`,
  );
  const queue = await new TestQueue({ pulse: false }).start();
  queue.clients.add('bench/task', { accessToken: 'bench-token-0123456789', scopes: [] });
  const files = await new ArtifactFileServer().start();
  const taskId = await publishArtifactTask(queue, PATH, files.serve(zst).url);
  const queueUrl = `${queue.rootUrl}/api/queue/v1/task/${taskId}/artifacts/${encodeURIComponent(PATH)}`;
  const ours: Array<Measured> = [];
  const baseline: number[] = [];
  const baselineCpu: number[] = [];
  // Warm-up: fills the stripped-TypeScript cache, as any host that started before has.
  await runChild(queue.rootUrl, taskId);
  await removeImages([taskImageName(taskId, PATH)]);
  for (let i = 0; i < n; i++) {
    ours.push(await runChild(queue.rootUrl, taskId));
    await removeImages([taskImageName(taskId, PATH), name]);
    const t0 = performance.now();
    const pipeline = `curl -sfL '${queueUrl}' | zstd -dc | docker load -q`;
    const { stderr } = await run('/usr/bin/time', ['-f', 'cpu %U %S', 'bash', '-o', 'pipefail', '-c', pipeline]);
    baseline.push(performance.now() - t0);
    const [user = 0, system = 0] = (/cpu ([\d.]+) ([\d.]+)/.exec(stderr) ?? []).slice(1).map(Number);
    baselineCpu.push((user + system) * 1000);
    await removeImages([taskImageName(taskId, PATH), name]);
  }
  await files.stop();
  await queue.stop();
  report(ours, baseline, baselineCpu);
}

/** busybox plus `randomMB` of random bytes (incompressible) and `textMB` of `seq` output. */
async function bigImage(dir: string, randomMB: number, textMB: number) {
  const script = `head -c ${randomMB}000000 /dev/urandom > /random && seq 1 100000000 | head -c ${textMB}000000 > /text`;
  const container = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ['sh', '-c', script] });
  await container.start();
  await container.wait();
  const name = `dw-test/bench-image:${Date.now()}`;
  const [repo, tag] = name.split(':') as [string, string];
  await container.commit({ repo, tag });
  await container.remove();
  const tar = `${dir}/bench.tar`;
  await run('docker', ['save', '-o', tar, name]);
  await removeImages([name]);
  return { name, tar };
}

function runChild(rootUrl: string, taskId: string): Promise<Measured> {
  const bin = new URL('../bin/typescript-cache.js', import.meta.url).pathname;
  const entry = `import module from 'node:module'; import { cacheStrippedTypeScript } from '${bin}';
    module.enableCompileCache?.(); cacheStrippedTypeScript(); await import('${new URL(import.meta.url).pathname}');`;
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', entry], {
      env: { ...process.env, DW_BENCH_IMAGES_CHILD: `${rootUrl} ${taskId}` },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    proc.on('error', reject);
    proc.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'))
        : reject(new Error(`child exited ${code}`)),
    );
  });
}

async function removeImages(names: string[]): Promise<void> {
  for (const name of names) {
    try {
      await docker.getImage(name).remove();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
  }
}

function report(ours: Measured[], baseline: number[], baselineCpu: number[]): void {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const load = median(ours.map((o) => o.firstMs));
  const base = median(baseline);
  console.log(`runs: ${ours.length} (alternating), medians`);
  console.log(
    `dw-host streamed load (first task, to ready): ${s(load)}   runs: ${ours.map((o) => s(o.firstMs)).join(', ')}`,
  );
  console.log(`curl | zstd -d | docker load:                 ${s(base)}   runs: ${baseline.map(s).join(', ')}`);
  console.log(`ratio dw-host / baseline: ${(load / base).toFixed(3)} (target <= 1.05)`);
  const cpu = s(median(ours.map((o) => o.cpuMs)));
  console.log(`CPU (user+system) of the loader: ${cpu}; of curl + zstd + docker CLI: ${s(median(baselineCpu))}`);
  console.log(`second task, same image, to ready: ${median(ours.map((o) => o.secondMs)).toFixed(1)} ms`);
  const peak = Math.max(...ours.map((o) => o.maxRssMiB));
  const before = Math.max(...ours.map((o) => o.baseRssMiB));
  console.log(
    `loader process peak RSS: ${peak.toFixed(0)} MiB (target < 150 MB); ${before.toFixed(0)} MiB before the load`,
  );
}
