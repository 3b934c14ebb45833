// Resurrection end to end, nothing faked: a dummy-CPI environment (real nats-server with mutual TLS
// and NATS authorization, the real director, agents as processes running the real monit) with the
// `day2` deployment, and a health monitor started in-process with short intervals and the resurrector,
// connected the way the environment's own monitor is (its hm client certificate, director user `hm`).
// One agent is frozen (SIGSTOP): the monitor must time it out, the director must receive scan_and_fix,
// and the instance must end up on a new VM whose agent answers and runs the job.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logging.js';
import { DummyCpi } from '../../src/cpi/dummy/dummy-cpi.js';
import { stopProcess } from '../../src/environment/processes.js';
import { AlertEvent } from '../../src/monitor/events/alert.js';
import type { MonitorEvent } from '../../src/monitor/events/event.js';
import { loadMonitorConfig } from '../../src/monitor/config.js';
import { startMonitor, type RunningMonitor } from '../../src/monitor/monitor.js';
import { DEPLOYMENT, eventually, startDay2Env, type Day2Env } from '../support/day2-env.js';
import { instanceInfos, type InstanceInfo } from '../support/day2-queries.js';
import { dummyEnvironmentSkip as skip } from '../support/dummy-env.js';

const AGENT_TIMEOUT = 3;
const ANALYZE_AGENTS = 1;
const HEARTBEAT_MS = 1000;
const quiet = createLogger('resurrection-e2e', undefined, 'silent');

interface TaskView {
  id: number;
  state: string;
  description: string;
  user: string;
  deployment: string | null;
  result: string | null;
}

let env: Day2Env | undefined;
let monitor: RunningMonitor | undefined;
const alerts: AlertEvent[] = [];
const savedHeartbeat = process.env.CAPSTAN_HEARTBEAT_INTERVAL_MS;

before(async () => {
  if (skip) return;
  // The director (and through its dummy CPI, every agent) inherits this: a heartbeat a second.
  process.env.CAPSTAN_HEARTBEAT_INTERVAL_MS = String(HEARTBEAT_MS);
  env = await startDay2Env(2);
  // The environment's own monitor (default intervals) would race ours for the same frozen agent.
  await stopProcess(env.paths.monitorPid, env.paths.monitorConfig);
  // day2-env pauses resurrection for its other tests; scan_and_fix is refused while it is paused.
  await env.client.request('PUT', '/resurrection', { body: JSON.stringify({ resurrection_paused: false }), contentType: 'application/json' });

  // The environment's monitor config: its NATS URL, hm client certificate, director user and password.
  const config = loadMonitorConfig(env.paths.monitorConfig);
  config.loglevel = 'silent';
  config.http = { host: '127.0.0.1', port: 0 };
  config.mbus.reconnect_time_wait = 0.2;
  config.intervals = {
    ...config.intervals,
    poll_director: 2, poll_grace_period: 1, analyze_agents: ANALYZE_AGENTS, agent_timeout: AGENT_TIMEOUT,
    analyze_instances: 2, resurrection_config: 2, rogue_agent_alert: 60, prune_events: 30,
  };
  config.plugins = [{ name: 'resurrector', events: ['alert'], options: { settle_period: 1 } }];
  monitor = await startMonitor(config, quiet);
  monitor.processor.register('capture', { process: (e: MonitorEvent) => void (e instanceof AlertEvent && alerts.push(e)) }, ['alert']);
});

after(async () => {
  await monitor?.close();
  await env?.close(); // deletes the deployment's VMs, stops the environment, kills stray agents, removes the dirs
  if (savedHeartbeat === undefined) delete process.env.CAPSTAN_HEARTBEAT_INTERVAL_MS;
  else process.env.CAPSTAN_HEARTBEAT_INTERVAL_MS = savedHeartbeat;
});

const scanAndFixTasks = async (e: Day2Env) =>
  (await e.client.getJson<TaskView[]>('/tasks', { deployment: DEPLOYMENT, verbose: '2' })).filter((t) => t.description === 'scan and fix');

test('a frozen agent times out, the resurrector gets scan_and_fix to the director, and the instance runs on a new VM', { skip }, async () => {
  const e = env!;
  const m = monitor!;
  const before = await instanceInfos(e);
  assert.equal(before.length, 2);
  const [victim, bystander] = before as [InstanceInfo, InstanceInfo];
  for (const info of before) assert.equal(info.job_state, 'running');

  await eventually('the monitor to know both agents from the director and their heartbeats', 30_000, () =>
    m.poller.synced && before.every((i) => m.registry.agents.get(i.agent_id!)?.instanceId === i.id && m.registry.agents.get(i.agent_id!)?.jobState === 'running') ? true : undefined,
  );
  assert.deepEqual(await scanAndFixTasks(e), []);

  // the dummy CPI's switch works on its state directory, shared with the director's CPI
  const cpi = new DummyCpi({ baseDir: e.paths.dummyCpi, agent: { mbus: 'nats://127.0.0.1:1', blobstore: { provider: 'local', options: {} } }, logger: quiet });
  await cpi.simulate({ type: 'agent_unresponsive', vmCid: victim.vm_cid! });

  // The last heartbeat came at most one period before the freeze.
  const slackMs = HEARTBEAT_MS + 2000;
  const timedOut = await eventually('the "timed out" alert', (AGENT_TIMEOUT + ANALYZE_AGENTS) * 1000 + slackMs, () => alerts.find((a) => a.title === `${victim.agent_id} has timed out`));
  assert.equal(timedOut.severity, 2);
  assert.equal(timedOut.deployment, DEPLOYMENT);
  assert.equal(alerts.some((a) => a.title === `${bystander.agent_id} has timed out`), false);

  const [task] = await eventually('a scan and fix task from the monitor', 20_000, async () => {
    const tasks = await scanAndFixTasks(e);
    return tasks.length > 0 ? tasks : undefined;
  });
  assert.equal(task!.user, 'hm');
  assert.equal(task!.deployment, DEPLOYMENT);
  assert.ok(alerts.some((a) => a.title === 'Scan unresponsive VMs' && a.summary.includes(`ticker/${victim.id}`)));

  const done = await eventually('the scan and fix task to finish', 90_000, async () => {
    const current = await e.client.getJson<TaskView>(`/tasks/${task!.id}`);
    return ['queued', 'processing'].includes(current.state) ? undefined : current;
  });
  assert.equal(done.state, 'done', done.result ?? '');
  assert.equal(done.result, 'scan and fix complete');

  const after = await instanceInfos(e);
  const fixed = after.find((i) => i.id === victim.id)!;
  assert.ok(fixed.vm_cid, 'the instance has a VM');
  assert.notEqual(fixed.vm_cid, victim.vm_cid, 'the instance got a new VM');
  assert.notEqual(fixed.agent_id, victim.agent_id);
  assert.equal(fixed.job_state, 'running');
  assert.deepEqual(fixed.processes.map((p) => [p.name, p.state]), [['ticker', 'running']]);
  assert.equal(existsSync(join(e.paths.dummyCpi, 'vms', victim.vm_cid!)), false, 'the frozen VM is gone');
  const untouched = after.find((i) => i.id === bystander.id)!;
  assert.equal(untouched.vm_cid, bystander.vm_cid, 'the healthy instance kept its VM');

  // `capstan vms` shows the new VM, and the monitor hears the new agent's heartbeats.
  const vms = e.capstan('--json', '-d', DEPLOYMENT, 'vms');
  assert.ok(vms.includes(fixed.vm_cid!) && !vms.includes(victim.vm_cid!), vms);
  await eventually('the new agent heartbeating to the monitor', 15_000, () =>
    m.registry.agents.get(fixed.agent_id!)?.instanceId === victim.id && m.registry.agents.get(fixed.agent_id!)?.jobState === 'running' ? true : undefined,
  );
});
