// Day-2 operations driven through `capstan` (bin/capstan) on the dummy CPI, as an operator runs them:
// stop / start / restart / recreate / stop --hard, ignore, cloud-check, logs, events and errands,
// each checked on the director's answer and on the effect.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { list as listTar } from 'tar';
import { createLogger } from '../../../src/common/logging.js';
import { DummyCpi } from '../../../src/cpi/dummy/dummy-cpi.js';
import { DEPLOYMENT, pidAlive, startDay2Env, type Day2Env } from '../../support/day2-env.js';
import { instanceInfos, jobPid, type InstanceInfo } from '../../support/day2-queries.js';

let env: Day2Env;

before(async () => {
  env = await startDay2Env(2);
});
after(async () => {
  await env?.close();
});

const byIndex = (infos: InstanceInfo[], index: number) => infos.find((i) => i.index === index)!;
const capstan = (...args: string[]) => env.capstan('-n', '-d', DEPLOYMENT, ...args);

test('capstan stop, start, restart, recreate and stop --hard', async () => {
  const initial = await instanceInfos(env);
  const [first, second] = [byIndex(initial, 0), byIndex(initial, 1)];

  const pid = jobPid(env, first.id);
  assert.match(capstan('stop', 'ticker/0'), /Updating instance ticker: ticker\/[0-9a-f-]{36} \(0\)/);
  assert.equal(pidAlive(pid), false, 'stop really stops the job');
  assert.equal(byIndex(await instanceInfos(env), 0).job_state, 'stopped');

  capstan('start', 'ticker/0');
  assert.ok(pidAlive(jobPid(env, first.id)));

  const before = jobPid(env, second.id);
  capstan('restart', 'ticker');
  assert.notEqual(jobPid(env, second.id), before);

  capstan('recreate', `ticker/${second.id}`);
  const recreated = byIndex(await instanceInfos(env), 1);
  assert.notEqual(recreated.vm_cid, second.vm_cid);
  assert.equal(recreated.job_state, 'running');

  capstan('stop', '--hard', 'ticker/0', '--no-converge');
  assert.equal(byIndex(await instanceInfos(env), 0).vm_cid, null);
  capstan('start', 'ticker/0');
  assert.equal(byIndex(await instanceInfos(env), 0).job_state, 'running');
});

test('capstan ignore / unignore', async () => {
  capstan('ignore', 'ticker/1');
  assert.equal(byIndex(await instanceInfos(env), 1).ignore, true);
  capstan('unignore', 'ticker/1');
  assert.equal(byIndex(await instanceInfos(env), 1).ignore, false);
});

test('capstan cloud-check finds a missing VM and recreates it', async () => {
  const lost = byIndex(await instanceInfos(env), 0);
  const cpi = new DummyCpi({ baseDir: env.paths.dummyCpi, agent: { mbus: 'nats://127.0.0.1:1', blobstore: { provider: 'local', options: {} } }, logger: createLogger('cli-test', undefined, 'silent') });
  await cpi.simulate({ type: 'vm_vanished', vmCid: lost.vm_cid! });
  assert.match(capstan('cloud-check', '--report'), /missing_vm/);
  capstan('cloud-check', '--resolution', 'recreate_vm');
  const fixed = byIndex(await instanceInfos(env), 0);
  assert.ok(fixed.vm_cid && fixed.vm_cid !== lost.vm_cid);
  assert.equal(fixed.job_state, 'running');
});

test('capstan logs downloads a tarball holding the job log', async () => {
  const dir = join(env.work, 'logs');
  capstan('logs', 'ticker/0', '--dir', dir);
  const [file] = readdirSync(dir);
  const entries: string[] = [];
  await listTar({ file: join(dir, file), onReadEntry: (e) => entries.push(e.path) });
  assert.ok(entries.some((e) => /ticker\/ticker\.stdout\.log$/.test(e)), entries.join(', '));
});

test('capstan events lists what happened; capstan errands lists the errands', () => {
  const events = JSON.parse(env.capstan('--json', 'events', '-d', DEPLOYMENT)).Tables[0].Rows as Array<Record<string, string>>;
  assert.ok(events.length > 0);
  assert.ok(JSON.stringify(events).includes('recreate'));
  assert.match(capstan('errands'), /hello/);
  assert.ok(existsSync(env.runRoot));
});
