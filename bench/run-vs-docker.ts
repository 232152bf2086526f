// `dw-host run` of a trivial task against a bare `docker run --rm` of the same container,
// alternating so that machine noise hits both alike. Prints medians and ratios.
//   node bench/run-vs-docker.ts [N=20]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUSYBOX_IMAGE, ensureTestImages } from '../tests/harness/images.ts';

const runs = Number(process.argv[2] ?? 20);
const DW_HOST = fileURLToPath(new URL('../bin/dw-host', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'dw-host-bench-'));
const taskFile = join(work, 'true.json');
writeFileSync(taskFile, JSON.stringify({ image: BUSYBOX_IMAGE, maxRunTime: 60, command: ['true'] }));

interface Sample {
  seconds: number;
  maxRssKiB: number;
}

/** Wall time and peak RSS of one whole process, measured by GNU time. */
function measure(command: string[]): Sample {
  const timed = spawnSync('/usr/bin/time', ['-f', '%e %M', ...command], { encoding: 'utf8' });
  if (timed.status !== 0) throw new Error(`${command.join(' ')} failed:\n${timed.stderr}`);
  const [seconds, rss] = (timed.stderr.trim().split('\n').at(-1) ?? '').split(' ');
  return { seconds: Number(seconds), maxRssKiB: Number(rss) };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

await ensureTestImages();
const dockerCli = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
const dwHost = (i: number) => [process.execPath, DW_HOST, 'run', taskFile, '--out', join(work, `out-${i}`)];
const docker = () => [dockerCli, 'run', '--rm', BUSYBOX_IMAGE, 'true'];
const floor = () => [process.execPath, fileURLToPath(new URL('engine-floor.js', import.meta.url)), BUSYBOX_IMAGE];
measure(dwHost(-1)); // warm the page cache and Node's compile cache once
measure(docker());
measure(floor());
const dw: Sample[] = [];
const base: Sample[] = [];
const bare: Sample[] = [];
for (let i = 0; i < runs; i++) {
  dw.push(measure(dwHost(i)));
  base.push(measure(docker()));
  bare.push(measure(floor()));
}
rmSync(work, { recursive: true, force: true });

const row = (name: string, samples: Sample[]) =>
  `${name.padEnd(26)} ${median(samples.map((s) => s.seconds))
    .toFixed(3)
    .padStart(8)} s ${(median(samples.map((s) => s.maxRssKiB)) / 1024).toFixed(1).padStart(8)} MiB`;
console.log(`dw-host run vs docker run --rm, ${runs} runs each, alternating (${process.version}, ${dockerCli})`);
console.log(`${''.padEnd(26)} ${'median'.padStart(10)} ${'peak RSS'.padStart(12)}`);
console.log(row('docker run --rm … true', base));
console.log(row('dw-host run true.json', dw));
console.log(row('floor: node + engine calls', bare));
const timeRatio = median(dw.map((s) => s.seconds)) / median(base.map((s) => s.seconds));
const rssRatio = median(dw.map((s) => s.maxRssKiB)) / median(base.map((s) => s.maxRssKiB));
const floorRatio = median(bare.map((s) => s.seconds)) / median(base.map((s) => s.seconds));
console.log(`ratio (dw-host / docker): time ${timeRatio.toFixed(2)}  peak RSS ${rssRatio.toFixed(2)}`);
console.log(`ratio (floor / docker):   time ${floorRatio.toFixed(2)}  (Node and the engine calls alone)`);
