// Deploy wall time for 1, 10 and 100 instances with the dummy CPI: `capstan up` in a temporary home
// (real nats-server with mutual TLS, the real director process), VMs as Capstan agent processes,
// max_in_flight 10, the release's package compiled once by a warm-up deploy (so the measured deploys
// reuse the compiled package). Prints the wall time of each `capstan deploy`, the director's CPU
// time during it and its RSS after it.
//
// By default the agents run BOSH's dummy job supervisor (`-M dummy-nats`, director config
// `cpi.supervisor: dummy`), as BOSH's own dummy CPI starts its agents: no monit per VM, jobs report
// running as soon as they are started, so the figures measure the director, NATS and the agents'
// mbus/apply path. `--supervisor monit` runs the real monit per VM with the job's process under it
// (what the acceptance tests use).
//
//   npm run bench -- deploy [--sizes 1,10,100] [--supervisor dummy|monit] [--watch-time MIN-MAX]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { dummyEnvironmentSkip, startDummyEnvironment, writeReleaseDir, type DummyEnvironment } from '../test/support/dummy-env.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const sizes = arg('sizes', '1,10,100').split(',').map(Number);
const supervisorArg = arg('supervisor', 'dummy');
if (supervisorArg !== 'dummy' && supervisorArg !== 'monit') throw new Error(`--supervisor must be dummy or monit, not '${supervisorArg}'`);
const supervisor: 'dummy' | 'monit' = supervisorArg;
// With the dummy supervisor jobs are running right after `start`: a short canary/update watch time is
// enough; with monit the first get_state comes after monit's first cycle (1 s).
const watchTime = arg('watch-time', supervisor === 'dummy' ? '100-5000' : '1000-60000');

function release(dir: string, root: string): string {
  const run = `${root}/<%= spec.id %>`;
  writeReleaseDir(dir, 'bench', [{
    name: 'worker',
    spec: { templates: { 'ctl.erb': 'bin/ctl', 'pre-start.erb': 'bin/pre-start' }, packages: ['tool'], properties: {} },
    monit: ['check process worker', `  with pidfile ${run}/pid`, `  start program "${run}/ctl start"`, `  stop program "${run}/ctl stop"`, '  group vcap', ''].join('\n'),
    templates: {
      'pre-start.erb': ['#!/bin/bash', `mkdir -p ${run}`, `cp "$(dirname "$0")/ctl" ${run}/ctl`, `chmod 755 ${run}/ctl`, ''].join('\n'),
      'ctl.erb': ['#!/bin/bash', 'case "$1" in', `  start) setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > ${run}/pid ;;`, `  stop) kill "$(cat ${run}/pid)" 2>/dev/null; rm -f ${run}/pid ;;`, 'esac', ''].join('\n'),
    },
  }]);
  mkdirSync(join(dir, 'packages', 'tool'), { recursive: true });
  writeFileSync(join(dir, 'packages', 'tool', 'spec'), 'name: tool\nfiles: []\n');
  writeFileSync(join(dir, 'packages', 'tool', 'packaging'), 'echo built > "$BOSH_INSTALL_TARGET/tool"\n');
  return dir;
}

function manifest(name: string, instances: number): string {
  return stringify({
    name,
    releases: [{ name: 'bench', version: 'latest' }],
    stemcells: [{ alias: 'default', os: 'debian-bookworm', version: 'latest' }],
    update: { canaries: 1, max_in_flight: 10, canary_watch_time: watchTime, update_watch_time: watchTime },
    instance_groups: [{
      name: 'worker', instances, azs: ['z1', 'z2'], vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }],
      jobs: [{ name: 'worker', release: 'bench' }],
    }],
  });
}

async function timedDeploy(env: DummyEnvironment, name: string, instances: number): Promise<number> {
  const path = join(env.work, `${name}.yml`);
  writeFileSync(path, manifest(name, instances));
  const started = process.hrtime.bigint();
  await env.capstanOk('-d', name, 'deploy', path);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** user + system CPU seconds of the director process so far (/proc/<pid>/stat, clock ticks of 1/100 s). */
function directorCpuSeconds(home: string): number {
  const pid = readFileSync(join(home, 'run', 'director.pid'), 'utf8').trim();
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main(): Promise<void> {
  if (dummyEnvironmentSkip) {
    console.log(`deploy bench skipped: ${dummyEnvironmentSkip}`);
    return;
  }
  const env = await startDummyEnvironment('capstan-bench-deploy', { supervisor });
  console.log(supervisor === 'dummy'
    ? 'agents: Capstan agent processes with the dummy job supervisor (-M dummy-nats, no monit, no job processes), as BOSH\'s dummy CPI runs them'
    : 'agents: Capstan agent processes each running the real monit, the job\'s process under it');
  console.log(`update: canaries 1, max_in_flight 10, canary/update watch time ${watchTime} ms; node ${process.version}, ${cpus().length} CPUs`);
  const directorCpu = () => directorCpuSeconds(env.home);
  const deployments: string[] = [];
  try {
    const root = join(env.home, 'jobs-root');
    mkdirSync(root);
    const tarball = join(env.work, 'bench.tgz');
    await env.capstanOk('create-release', '--dir', release(join(env.work, 'release'), root), '--version', '1', '--tarball', tarball, '--force');
    await env.capstanOk('upload-release', tarball);
    const cloudConfig = join(env.work, 'cloud-config.yml');
    writeFileSync(cloudConfig, stringify({
      azs: [{ name: 'z1' }, { name: 'z2' }],
      vm_types: [{ name: 'default' }],
      networks: [{ name: 'default', type: 'manual', subnets: [
        { range: '10.244.0.0/23', gateway: '10.244.0.1', az: 'z1', reserved: ['10.244.0.1 - 10.244.0.9'] },
        { range: '10.244.2.0/23', gateway: '10.244.2.1', az: 'z2', reserved: ['10.244.2.1 - 10.244.2.9'] },
      ] }],
      compilation: { workers: 2, network: 'default', az: 'z1', vm_type: 'default', reuse_compilation_vms: true },
    }));
    await env.capstanOk('update-cloud-config', cloudConfig);

    deployments.push('warmup');
    const warm = await timedDeploy(env, 'warmup', 1);
    console.log(`warm-up deploy (compiles the package): ${warm.toFixed(1)} s, director RSS ${(env.directorRssKb() / 1024).toFixed(0)} MB`);
    console.log('instances  wall time  director CPU  director RSS');
    for (const size of sizes) {
      const name = `bench-${size}`;
      deployments.push(name);
      const cpuBefore = directorCpu();
      const seconds = await timedDeploy(env, name, size);
      const cpu = directorCpu() - cpuBefore;
      console.log(`${String(size).padStart(9)}  ${seconds.toFixed(1).padStart(7)} s  ${cpu.toFixed(1).padStart(10)} s  ${(env.directorRssKb() / 1024).toFixed(0).padStart(9)} MB`);
    }
  } finally {
    for (const name of deployments.reverse()) await env.capstan('-d', name, 'delete-deployment', '--force');
    await env.stop();
  }
}

await main();
