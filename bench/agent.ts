// Agent figures (issue 3): cold start to first heartbeat, apply+start -> running for a one-package
// job, idle RSS after 5 minutes, CPU time per heartbeat. The agent is the esbuild bundle
// (dist/capstan-agent.cjs, rebuilt first) started with the production node flags
// (src/agent/node-flags.ts) and -P dummy, a spawned real monit, driven over a real nats-server (mTLS).
//
//   npm run bench -- agent [--idle-seconds 300]
//   CAPSTAN_AGENT_NODE=/path/to/node18 npm run bench -- agent    (the stemcell's Node version)
//   CAPSTAN_AGENT_NODE_FLAGS="..." / CAPSTAN_AGENT_BUNDLE=<file>  (experiments: other flags, bundle)
//
// Targets (issue 3): idle RSS <= 45 MB; first heartbeat < 1 s after NATS is reachable. The bench also
// prints the RSS of an empty node process with the same binary and flags: the agent cannot go below it.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_NODE_ENV } from '../src/agent/node-flags.js';
import { AgentEnv, REPO, agentNodeFlags, renderedJobBlob, sha1, sleep, tarballBlob, waitFor } from '../test/agent/harness.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function statusKb(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
const rssKb = (pid: number) => statusKb(pid, 'VmRSS');

/** utime + stime of the process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

/** A one-package job whose process is a `sleep`, as blobs in the local blobstore. */
async function oneJobSpec(env: AgentEnv) {
  const archive = await renderedJobBlob(env, 'bench-rendered', 'benchjob', { sleepArg: 100003 });
  const pkg = await tarballBlob(env, 'bench-pkg', { 'file.txt': 'x'.repeat(100_000) });
  return {
    deployment: 'bench',
    name: 'bench',
    index: 0,
    id: 'bench-0',
    job: { name: 'bench', template: 'benchjob', version: '1', templates: [{ name: 'benchjob', version: '1' }] },
    packages: { pkg: { name: 'pkg', version: '1', sha1: sha1(pkg), blobstore_id: 'bench-pkg' } },
    networks: { default: { type: 'manual', ip: '10.245.0.10', netmask: '255.255.255.0', gateway: '10.245.0.1' } },
    configuration_hash: 'bench-1',
    rendered_templates_archive: { blobstore_id: 'bench-rendered', sha1: sha1(archive) },
  };
}

/** RSS of a node process that does nothing, with the agent's binary, flags and environment. */
async function emptyNodeRssKb(node: string, flags: string[]): Promise<number> {
  const child = spawn(node, [...flags, '-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore', env: { ...AGENT_NODE_ENV, ...process.env } });
  try {
    await sleep(2000);
    return rssKb(child.pid!);
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const idleSeconds = Number(arg('idle-seconds', '300'));
  // the bundle of the current sources, unless CAPSTAN_AGENT_BUNDLE names another one
  const bundle = process.env.CAPSTAN_AGENT_BUNDLE ?? join(REPO, 'dist', 'capstan-agent.cjs');
  if (!process.env.CAPSTAN_AGENT_BUNDLE) execFileSync(process.execPath, [join(REPO, 'scripts', 'build-agent.mjs')], { stdio: 'inherit' });
  process.env.CAPSTAN_AGENT_BUNDLE = bundle;
  const env = new AgentEnv({ heartbeatMs: 30_000 });
  try {
    await env.setup();
    const agentNode = process.env.CAPSTAN_AGENT_NODE ?? process.execPath;
    const nodeVersion = execFileSync(agentNode, ['--version']).toString().trim();
    const flags = agentNodeFlags();
    console.log(`agent bundle ${bundle} on node ${nodeVersion} (CAPSTAN_AGENT_NODE), monit poll 1 s (stemcells: 10 s)`);
    console.log(`node flags: ${flags.join(' ') || '(none)'} (CAPSTAN_AGENT_NODE_FLAGS)`);
    console.log(`empty node process, same binary, flags and env: ${mb(await emptyNodeRssKb(agentNode, flags))} RSS (the floor under the agent's figure)`);

    // 1. Cold start: process spawn -> first heartbeat on NATS (NATS already reachable).
    const t0 = performance.now();
    const agent = env.spawnAgent();
    await waitFor('first heartbeat', async () => (env.heartbeats.length > 0 ? true : undefined), 60_000, () => env.log);
    console.log(`cold start -> first heartbeat:        ${(env.heartbeatTimes[0]! - t0).toFixed(0)} ms`);
    const pid = agent.pid!;

    // 2. apply + start -> job_state running, polling every 100 ms (the director polls every 1 s).
    const spec = await oneJobSpec(env);
    const t1 = performance.now();
    await env.call('apply', [spec]);
    const applied = performance.now();
    await env.call('start');
    const started = performance.now();
    await waitFor('running', async () => (((await env.call('get_state')) as { job_state: string }).job_state === 'running' ? true : undefined));
    const running = performance.now();
    console.log(
      `apply+start -> running (1 package):   ${(running - t1).toFixed(0)} ms (apply ${(applied - t1).toFixed(0)}, start ${(started - applied).toFixed(0)}, until running ${(running - started).toFixed(0)})`,
    );

    // 3. Idle RSS (job running, no requests; heartbeats every 30 s).
    const hbBefore = env.heartbeats.length;
    const cpuBefore = cpuMs(pid);
    let maxRss = 0;
    for (let waited = 0; waited < idleSeconds; waited += 5) {
      await sleep(Math.min(5, idleSeconds - waited) * 1000);
      maxRss = Math.max(maxRss, rssKb(pid));
    }
    const idleCpu = cpuMs(pid) - cpuBefore;
    console.log(`idle RSS after ${idleSeconds} s:                ${mb(rssKb(pid))} (max ${mb(maxRss)}; target <= 45 MB after 300 s)`);
    console.log(`  of which anonymous / file-backed:   ${mb(statusKb(pid, 'RssAnon'))} / ${mb(statusKb(pid, 'RssFile'))} (file-backed = mostly the node binary)`);
    console.log(`idle CPU over ${idleSeconds} s:                 ${idleCpu.toFixed(0)} ms (${env.heartbeats.length - hbBefore} heartbeats, vitals sampling, timers)`);

    // 4. CPU per heartbeat: the same agent restarted with a 100 ms heartbeat interval.
    await env.stopAgent();
    env.options.heartbeatMs = 100;
    const fast = await env.startAgent();
    await sleep(2000);
    const hbStart = env.heartbeats.length;
    const cpuStart = cpuMs(fast.pid!);
    await sleep(10_000);
    const beats = env.heartbeats.length - hbStart;
    const perBeat = (cpuMs(fast.pid!) - cpuStart) / Math.max(1, beats);
    console.log(`CPU time per heartbeat:               ${perBeat.toFixed(2)} ms (${beats} heartbeats in 10 s, incl. background work)`);
  } finally {
    await env.teardown();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
