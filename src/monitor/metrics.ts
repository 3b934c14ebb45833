// Prometheus metrics (served at /metrics): vitals per instance, agents by state, heartbeats
// and alerts counted. Everything is computed from the registry at scrape time, so heartbeat
// handling pays nothing for it.
import { Counter, Gauge, Registry } from 'prom-client';
import type { Agent, AgentRegistry } from './agents.js';
import type { EventProcessor } from './event-processor.js';

const INSTANCE_LABELS = ['deployment', 'job', 'index', 'instance_id'] as const;

type VitalPick = (agent: Agent) => string | undefined;

const VITALS: [string, string, VitalPick][] = [
  ['capstan_hm_instance_cpu_user_percent', 'CPU user percent', (a) => a.vitals?.cpu?.user],
  ['capstan_hm_instance_cpu_sys_percent', 'CPU system percent', (a) => a.vitals?.cpu?.sys],
  ['capstan_hm_instance_cpu_wait_percent', 'CPU wait percent', (a) => a.vitals?.cpu?.wait],
  ['capstan_hm_instance_mem_percent', 'memory used percent', (a) => a.vitals?.mem?.percent],
  ['capstan_hm_instance_mem_kb', 'memory used KiB', (a) => a.vitals?.mem?.kb],
  ['capstan_hm_instance_swap_percent', 'swap used percent', (a) => a.vitals?.swap?.percent],
  ['capstan_hm_instance_load_1m', 'load average over 1 minute', (a) => a.vitals?.load?.[0]],
  ['capstan_hm_instance_disk_system_percent', 'system disk used percent', (a) => a.vitals?.disk?.system?.percent],
  ['capstan_hm_instance_disk_ephemeral_percent', 'ephemeral disk used percent', (a) => a.vitals?.disk?.ephemeral?.percent],
  ['capstan_hm_instance_disk_persistent_percent', 'persistent disk used percent', (a) => a.vitals?.disk?.persistent?.percent],
];

function instanceLabels(agent: Agent) {
  return { deployment: agent.deployment ?? '', job: agent.job ?? '', index: String(agent.index ?? ''), instance_id: agent.instanceId ?? '' };
}

export function createMetrics(registry: AgentRegistry, processor: EventProcessor, agentTimeoutMs: () => number): Registry {
  const metrics = new Registry();
  const managed = () => [...registry.agents.values()].filter((a) => a.deployment !== null);

  for (const [name, help, pick] of VITALS) {
    new Gauge({
      name,
      help: `Instance ${help}, from the agent's last heartbeat`,
      labelNames: INSTANCE_LABELS,
      registers: [metrics],
      collect() {
        this.reset();
        for (const agent of managed()) {
          const value = Number(pick(agent));
          if (pick(agent) !== undefined && Number.isFinite(value)) this.set(instanceLabels(agent), value);
        }
      },
    });
  }
  new Gauge({
    name: 'capstan_hm_instance_healthy',
    help: '1 when the job state is running, else 0',
    labelNames: INSTANCE_LABELS,
    registers: [metrics],
    collect() {
      this.reset();
      for (const agent of managed()) this.set(instanceLabels(agent), agent.jobState === 'running' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'capstan_hm_agents',
    help: 'Agents by deployment and state (job state, or unresponsive when timed out)',
    labelNames: ['deployment', 'state'],
    registers: [metrics],
    collect() {
      this.reset();
      const now = Date.now();
      const counts = new Map<string, number>();
      for (const agent of registry.agents.values()) {
        const state = agent.isTimedOut(now, agentTimeoutMs()) ? 'unresponsive' : (agent.jobState ?? 'unknown');
        const key = `${agent.deployment ?? 'unmanaged'}\u0000${state}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [key, count] of counts) {
        const [deployment, state] = key.split('\u0000') as [string, string];
        this.set({ deployment, state }, count);
      }
    },
  });
  new Counter({
    name: 'capstan_hm_heartbeats_total',
    help: 'Heartbeats received',
    registers: [metrics],
    collect() {
      this.reset();
      this.inc(registry.heartbeatsReceived);
    },
  });
  new Counter({
    name: 'capstan_hm_alerts_total',
    help: 'Alerts processed, by severity',
    labelNames: ['severity'],
    registers: [metrics],
    collect() {
      this.reset();
      for (const [severity, count] of processor.alertsBySeverity) this.inc({ severity: String(severity) }, count);
    },
  });
  return metrics;
}
