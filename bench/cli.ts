// `npm run bench -- cli [runs]`: cold start of the capstan CLI (bin/capstan, a new process each
// run): `capstan --version`, and `capstan vms` against a fake director (test/cli/fake-director.ts)
// answering a 100-instance deployment. Builds the CLI bundle first when it is stale, and also
// times the from-source (tsx) path for comparison. Targets (issue 7): 150 ms and 300 ms.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PASSWORD, startFakeDirector, USER } from '../test/cli/fake-director.js';

const root = resolve(import.meta.dirname, '..');
const BIN = join(root, 'bin/capstan');
const runs = Number(process.argv[2] ?? 15);

function vmLine(i: number): string {
  return JSON.stringify({
    vm_cid: `capstan-vm-${i}`,
    active: true,
    ips: [`10.245.${Math.floor(i / 250)}.${(i % 250) + 2}`],
    agent_id: `agent-${i}`,
    job_name: i % 2 ? 'web' : 'worker',
    index: i,
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    az: `z${(i % 3) + 1}`,
    job_state: 'running',
    vm_type: 'small',
    processes: [],
    vitals: null,
  });
}

function once(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((done, fail) =>
    execFile(BIN, args, { env, maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      if (err) fail(new Error(`capstan ${args.join(' ')} failed: ${stderr}`));
      else done(Number(process.hrtime.bigint() - start) / 1e6);
    }),
  );
}

async function measure(label: string, args: string[], env: NodeJS.ProcessEnv, n: number, target?: number): Promise<void> {
  await once(args, env); // warm the file system cache: "cold" means a new process, not a cold disk
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await once(args, env));
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const verdict = target === undefined ? '' : median < target ? `  (target < ${target} ms: met)` : `  (target < ${target} ms: MISSED)`;
  console.log(`${label.padEnd(44)} median ${median.toFixed(0).padStart(5)} ms   min ${times[0].toFixed(0).padStart(5)} ms   max ${times[times.length - 1].toFixed(0).padStart(5)} ms   (${n} runs)${verdict}`);
}

const { buildCli } = (await import(join(root, 'scripts/build-cli.mjs'))) as { buildCli: () => Promise<string> };
await buildCli();
const fake = await startFakeDirector();
const home = mkdtempSync(join(tmpdir(), 'capstan-bench-cli-'));
try {
  const lines = Array.from({ length: 100 }, (_, i) => vmLine(i)).join('\n') + '\n';
  fake.route('GET', '/deployments/bench/vms', { id: 1, states: ['done'], events: [], result: lines });
  const env = {
    PATH: process.env.PATH,
    CAPSTAN_HOME: home,
    BOSH_ENVIRONMENT: fake.url,
    BOSH_CA_CERT: fake.caPath,
    BOSH_CLIENT: USER,
    BOSH_CLIENT_SECRET: PASSWORD,
  };
  console.log(`node ${process.version}; ${runs} runs each after one warm-up; bin/capstan → dist/capstan.mjs`);
  await measure('capstan --version', ['--version'], env, runs, 150);
  await measure('capstan -d bench vms (100 instances)', ['-d', 'bench', 'vms'], env, runs, 300);
  await measure('capstan -d bench vms --json (100 instances)', ['-d', 'bench', 'vms', '--json'], env, runs, 300);
  const fromSource = { ...env, CAPSTAN_FROM_SOURCE: '1' };
  await measure('from source (tsx): capstan --version', ['--version'], fromSource, Math.min(runs, 5));
  await measure('from source (tsx): capstan -d bench vms', ['-d', 'bench', 'vms'], fromSource, Math.min(runs, 5));
} finally {
  await fake.close();
  rmSync(home, { recursive: true, force: true });
}
