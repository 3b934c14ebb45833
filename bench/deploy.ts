// Deploy wall time for 1, 10 and 100 instances with the dummy CPI: `capstan up` in a temporary home
// (real nats-server with mutual TLS, the real director process), VMs as Capstan agent processes each
// with the real monit, one job running a process under monit, max_in_flight 10, the release's
// package compiled once by a warm-up deploy (so the measured deploys reuse the compiled package).
// Prints the wall time of each `capstan deploy` and the director's RSS after it.
//
//   npm run bench -- deploy [--sizes 1,10,100]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { dummyEnvironmentSkip, startDummyEnvironment, writeReleaseDir, type DummyEnvironment } from '../test/support/dummy-env.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const sizes = arg('sizes', '1,10,100').split(',').map(Number);

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
    update: { canaries: 1, max_in_flight: 10, canary_watch_time: '1000-60000', update_watch_time: '1000-60000' },
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

async function main(): Promise<void> {
  if (dummyEnvironmentSkip) {
    console.log(`deploy bench skipped: ${dummyEnvironmentSkip}`);
    return;
  }
  const env = await startDummyEnvironment('capstan-bench-deploy');
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
    console.log('instances  wall time  director RSS');
    for (const size of sizes) {
      const name = `bench-${size}`;
      deployments.push(name);
      const seconds = await timedDeploy(env, name, size);
      console.log(`${String(size).padStart(9)}  ${seconds.toFixed(1).padStart(7)} s  ${(env.directorRssKb() / 1024).toFixed(0).padStart(8)} MB`);
    }
  } finally {
    for (const name of deployments.reverse()) await env.capstan('-d', name, 'delete-deployment', '--force');
    await env.stop();
  }
}

await main();
