// What the monitor knows: deployments and their instances (from polling the director) and
// agents (from the director and from their own messages). Heartbeat handling is O(1): a map
// lookup and a few field writes on a long-lived record.
import type { Vitals } from '../common/protocol.js';

export class Agent {
  deployment: string | null = null;
  job: string | null = null;
  index: number | null = null;
  instanceId: string | null = null;
  cid: string | null = null;
  jobState: string | null = null;
  numberOfProcesses: number | null = null;
  vitals: Vitals | null = null;
  /** Known from director polling; unmanaged agents are the rogue candidates. */
  managed = false;
  discoveredAt: number;
  updatedAt: number;

  constructor(readonly id: string, now: number) {
    // Both "now": a new agent starts with a full grace period.
    this.discoveredAt = now;
    this.updatedAt = now;
  }

  /** "deployment: job(instance_id) [id=agent_id, index=N, cid=cid]", the alert source. */
  get name(): string {
    return `${this.deployment ?? 'unknown'}: ${this.job ?? 'unknown'}(${this.instanceId ?? 'unknown'}) [id=${this.id}, index=${this.index ?? ''}, cid=${this.cid ?? ''}]`;
  }

  isTimedOut(now: number, timeoutMs: number): boolean {
    return now - this.updatedAt > timeoutMs;
  }

  isRogue(now: number, rogueMs: number): boolean {
    return !this.managed && this.deployment === null && now - this.discoveredAt > rogueMs;
  }
}

/** One row of `GET /deployments/<d>/instances` (director-api.md §2.3). */
export interface DirectorInstance {
  agent_id: string | null;
  cid: string | null;
  job: string;
  index: number | null;
  id: string;
  az?: string | null;
  ips?: string[];
  vm_created_at?: string | null;
  expects_vm: boolean;
}

export interface Deployment {
  name: string;
  teams: string[];
  locked: boolean;
  instances: DirectorInstance[];
}

export class AgentRegistry {
  readonly agents = new Map<string, Agent>();
  readonly deployments = new Map<string, Deployment>();
  /** Agents that announced their shutdown; polling does not bring them back while the director still lists them. */
  private readonly shutDown = new Set<string>();
  heartbeatsReceived = 0;

  /** Marks liveness for a heartbeat; unknown agents are recorded as unmanaged. */
  heartbeat(agentId: string, now: number, jobState: string | null, processes: number | null, vitals: Vitals | null): Agent {
    const agent = this.touch(agentId, now);
    agent.jobState = jobState;
    agent.numberOfProcesses = processes;
    agent.vitals = vitals;
    this.heartbeatsReceived++;
    return agent;
  }

  /** Any message from an agent proves it is alive. */
  touch(agentId: string, now: number): Agent {
    let agent = this.agents.get(agentId);
    if (agent === undefined) {
      agent = new Agent(agentId, now);
      this.agents.set(agentId, agent);
      this.shutDown.delete(agentId); // it is back
    }
    agent.updatedAt = now;
    return agent;
  }

  /** `hm.agent.shutdown`: the agent is going away on purpose; stop tracking it. */
  shutdown(agentId: string): boolean {
    this.shutDown.add(agentId);
    return this.agents.delete(agentId);
  }

  /** Every agent gets a fresh grace period (after a blind spot: NATS away, director away, a stall). */
  graceAll(now: number): void {
    for (const agent of this.agents.values()) if (agent.updatedAt < now) agent.updatedAt = now;
  }

  /** Replaces what the director says about the deployments; returns the names of stale agents removed. */
  syncDeployments(deployments: Deployment[], now: number): string[] {
    const seen = new Set<string>();
    const listed = new Set<string>();
    this.deployments.clear();
    for (const deployment of deployments) {
      this.deployments.set(deployment.name, deployment);
      for (const instance of deployment.instances) {
        if (!instance.agent_id || !instance.cid) continue;
        listed.add(instance.agent_id);
        if (this.shutDown.has(instance.agent_id)) continue;
        seen.add(instance.agent_id);
        let agent = this.agents.get(instance.agent_id);
        if (agent === undefined) {
          agent = new Agent(instance.agent_id, now);
          this.agents.set(instance.agent_id, agent);
        }
        agent.managed = true;
        agent.deployment = deployment.name;
        agent.job = instance.job;
        agent.index = instance.index;
        agent.instanceId = instance.id;
        agent.cid = instance.cid;
      }
    }
    for (const id of this.shutDown) if (!listed.has(id)) this.shutDown.delete(id);
    const removed: string[] = [];
    for (const [id, agent] of this.agents) {
      if (agent.managed && !seen.has(id)) {
        this.agents.delete(id);
        removed.push(id);
      }
    }
    return removed;
  }

  /** Instances that should have a VM and have none. */
  *instancesWithoutVm(deployment: Deployment): Iterable<DirectorInstance> {
    for (const instance of deployment.instances) if (instance.expects_vm && !instance.cid) yield instance;
  }

  /** Agents plus no-VM placeholders: the denominator of the meltdown percentage. */
  deploymentSize(name: string): number {
    const deployment = this.deployments.get(name);
    if (!deployment) return 0;
    let size = 0;
    for (const instance of deployment.instances) if ((instance.agent_id && instance.cid) || (instance.expects_vm && !instance.cid)) size++;
    return size;
  }

  /** Counts per deployment for the HTTP endpoints; `unmanaged` counts agents outside any deployment. */
  countBy(predicate: (agent: Agent) => boolean, withUnmanaged = false): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const name of this.deployments.keys()) counts[name] = 0;
    if (withUnmanaged) counts.unmanaged = 0;
    for (const agent of this.agents.values()) {
      if (!predicate(agent)) continue;
      const key = agent.deployment ?? (withUnmanaged ? 'unmanaged' : undefined);
      if (key !== undefined && key in counts) counts[key]!++;
    }
    return counts;
  }
}
