// Pure pieces around the seams: NATS server CN check (§1.1), monit status parsing and job_state (§6.3-§6.5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logging.js';
import { checkNatsServerIdentity } from '../../src/agent/mbus/nats-handler.js';
import { vcapPaths } from '../../src/agent/platform/paths.js';
import { duration, MonitJobSupervisor } from '../../src/agent/supervisor/job-supervisor.js';
import type { MonitClient } from '../../src/agent/supervisor/monit-client.js';
import type { MonitProcess } from '../../src/agent/supervisor/monit-process.js';
import { jobStateOf, parseMonitStatus, processesOf, vcapServices } from '../../src/agent/supervisor/monit-status.js';

const peer = (cn: string) => ({ subject: { CN: cn } }) as unknown as PeerCertificate;

test('the agent accepts only NATS server certs with a *.nats.bosh-internal CN', () => {
  assert.equal(checkNatsServerIdentity('10.245.0.1', peer('default.nats.bosh-internal')), undefined);
  assert.equal(checkNatsServerIdentity('10.245.0.1', peer('*.nats.bosh-internal')), undefined);
  assert.match(String(checkNatsServerIdentity('10.245.0.1', peer('localhost'))), /does not match/);
  assert.match(String(checkNatsServerIdentity('10.245.0.1', peer('x.agent.bosh-internal'))), /does not match/);
});

function service(name: string, fields: string): string {
  return `<service name="${name}"><type>3</type>${fields}</service>`;
}

function statusXml(services: string[], vcap: string[]): string {
  return (
    '<?xml version="1.0" encoding="ISO-8859-1"?><monit id="x" incarnation="1795262398" version="5.33.0"><server><uptime>2</uptime></server>' +
    `<services>${services.join('')}<service name="vm"><type>5</type><status>0</status><monitor>1</monitor><system><cpu><user>9.5</user></cpu></system></service></services>` +
    `<servicegroups><servicegroup name="vcap">${vcap.map((n) => `<service>${n}</service>`).join('')}</servicegroup></servicegroups></monit>`
  );
}

const RUNNING = '<status>0</status><monitor>1</monitor><pendingaction>0</pendingaction><uptime>42</uptime><memory><percent>0.1</percent><percenttotal>0.5</percenttotal><kilobyte>1656</kilobyte><kilobytetotal>2048</kilobytetotal></memory><cpu><percent>0.0</percent><percenttotal>1.5</percenttotal></cpu>';

test('monit status: only vcap services count; a running job reports processes', () => {
  const status = parseMonitStatus(statusXml([service('nginx', RUNNING), service('other', '<status>1</status><monitor>1</monitor>')], ['nginx']));
  assert.equal(status.incarnation, '1795262398');
  const services = vcapServices(status);
  assert.deepEqual(services.map((s) => s.name), ['nginx']);
  assert.equal(jobStateOf(services), 'running');
  assert.deepEqual(processesOf(services), [{ name: 'nginx', state: 'running', uptime: { secs: 42 }, mem: { kb: 2048, percent: 0.5 }, cpu: { total: 1.5 } }]);
});

test('job_state: starting beats failing; unmonitored is failing; no services is running', () => {
  const starting = service('a', '<status>0</status><monitor>2</monitor>');
  const unmonitored = service('b', '<status>0</status><monitor>0</monitor>');
  const failing = service('c', '<status>512</status><status_message>process is not running</status_message><monitor>1</monitor>');
  assert.equal(jobStateOf(vcapServices(parseMonitStatus(statusXml([starting, failing], ['a', 'c'])))), 'starting');
  assert.equal(jobStateOf(vcapServices(parseMonitStatus(statusXml([unmonitored], ['b'])))), 'failing');
  assert.equal(jobStateOf(vcapServices(parseMonitStatus(statusXml([failing], ['c'])))), 'failing');
  assert.equal(jobStateOf(vcapServices(parseMonitStatus(statusXml([], [])))), 'running');
  const [c] = vcapServices(parseMonitStatus(statusXml([failing], ['c'])));
  assert.equal(c.statusMessage, 'process is not running');
  assert.deepEqual(processesOf([c])[0], { name: 'c', state: 'failing', uptime: {}, mem: { percent: 0 }, cpu: { total: 0 } });
});

test('job monit files: the last job gets 0000, extra *.monit files get the job prefix (§6.2)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-monit-files-'));
  try {
    const paths = vcapPaths(join(dir, 'vcap'));
    const jobs = ['first', 'second', 'third'].map((name) => ({ name, dir: join(dir, 'installed', name) }));
    for (const job of jobs) {
      await mkdir(job.dir, { recursive: true });
      await writeFile(join(job.dir, 'monit'), `check process ${job.name}\n`);
    }
    await writeFile(join(jobs[0].dir, 'worker.monit'), 'check process first_worker\n');
    // writing files needs neither monit nor its HTTP interface
    const supervisor = new MonitJobSupervisor(paths, {} as MonitClient, {} as MonitProcess, createLogger('test'));
    await mkdir(paths.monitJob, { recursive: true });
    await writeFile(join(paths.monitJob, '0005_old.monitrc'), 'stale');
    await supervisor.writeJobConfigs(jobs);
    assert.deepEqual((await readdir(paths.monitJob)).sort(), ['0000_third.monitrc', '0001_second.monitrc', '0002_first.monitrc', '0002_first_worker.monitrc']);
    assert.equal(await readFile(join(paths.monitJob, '0002_first_worker.monitrc'), 'utf8'), 'check process first_worker\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('stop timeout texts name the configured timeout; the default reads as bosh-agent\'s "5 minutes"', () => {
  assert.equal(duration(300_000), '5 minutes');
  assert.equal(duration(60_000), '1 minute');
  assert.equal(duration(4_000), '4 seconds');
  assert.equal(duration(1_500), '1500 milliseconds');
});
