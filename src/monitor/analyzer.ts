// The periodic analyses (health-monitor.md A.6): timed-out and rogue agents, instances that
// expect a VM and have none. Per-agent alerts plus one aggregated deployment_health alert per
// deployment carrying jobs_to_instance_ids, which is what the resurrector acts on.
// Locked deployments (a deploy is running) are skipped.
import type { AgentRegistry } from './agents.js';
import type { AlertAttributes } from './events/alert.js';

export interface AnalyzerTimes {
  agentTimeoutMs: number;
  rogueAgentMs: number;
}

const nowSeconds = (now: number) => Math.floor(now / 1000);

function addTo(map: Record<string, string[]>, job: string, id: string): void {
  (map[job] ??= []).push(id);
}

export function analyzeAgents(registry: AgentRegistry, times: AnalyzerTimes, now: number, emit: (a: AlertAttributes) => void): void {
  const timedOutByDeployment = new Map<string, Record<string, string[]>>();
  const createdAt = nowSeconds(now);
  for (const [id, agent] of registry.agents) {
    if (agent.deployment !== null && registry.deployments.get(agent.deployment)?.locked) continue;
    const timedOut = agent.isTimedOut(now, times.agentTimeoutMs);
    const rogue = agent.isRogue(now, times.rogueAgentMs);
    if (timedOut && rogue) {
      registry.agents.delete(id); // an unknown agent that went quiet: nothing to report
      continue;
    }
    if (timedOut) {
      emit({ severity: 2, category: 'vm_health', source: agent.name, title: `${id} has timed out`, deployment: agent.deployment, job: agent.job, instance_id: agent.instanceId, created_at: createdAt });
      if (agent.deployment && agent.job && agent.instanceId) {
        let jobs = timedOutByDeployment.get(agent.deployment);
        if (!jobs) timedOutByDeployment.set(agent.deployment, (jobs = {}));
        addTo(jobs, agent.job, agent.instanceId);
      }
    } else if (rogue) {
      emit({ severity: 2, category: 'vm_health', source: agent.name, title: `${id} is not a part of any deployment`, created_at: createdAt });
    }
  }
  for (const [deployment, jobs] of timedOutByDeployment) {
    emit({
      severity: 2,
      category: 'deployment_health',
      source: deployment,
      title: `${deployment} has instances with timed out agents`,
      deployment,
      jobs_to_instance_ids: jobs,
      created_at: createdAt,
    });
  }
}

export function analyzeInstances(registry: AgentRegistry, now: number, emit: (a: AlertAttributes) => void): void {
  const createdAt = nowSeconds(now);
  for (const deployment of registry.deployments.values()) {
    if (deployment.locked) continue;
    const jobs: Record<string, string[]> = {};
    let missing = 0;
    for (const instance of registry.instancesWithoutVm(deployment)) {
      missing++;
      addTo(jobs, instance.job, instance.id);
      emit({
        severity: 2,
        category: 'vm_health',
        source: `${deployment.name}: ${instance.job}(${instance.id}) [index=${instance.index ?? ''}]`,
        title: `${instance.id} has no VM`,
        deployment: deployment.name,
        job: instance.job,
        instance_id: instance.id,
        created_at: createdAt,
      });
    }
    if (missing === 0) continue;
    emit({
      severity: 2,
      category: 'deployment_health',
      source: deployment.name,
      title: `${deployment.name} has instances which do not have VMs`,
      deployment: deployment.name,
      jobs_to_instance_ids: jobs,
      created_at: createdAt,
    });
  }
}
