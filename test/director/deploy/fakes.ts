// In-memory stand-ins for the seams around the deploy code: agents (AgentClientFactory), the task's
// event log, and a CPI. Behaviour is scripted per method; every call is recorded.
import type { AgentClient, AgentClientFactory, CallOptions } from '../../../src/director/agent-client.js';
import type { EventLog, EventStage, TaskContext } from '../../../src/director/context.js';
import type { Cpi, CloudProperties, VmEnv } from '../../../src/cpi/cpi.js';
import type { NetworkSettings } from '../../../src/common/protocol.js';
import { createLogger } from '../../../src/common/logging.js';

export interface AgentCall {
  agentId: string;
  method: string;
  args: unknown[];
}

export type AgentBehaviour = (agentId: string, args: unknown[]) => unknown | Promise<unknown>;

export class FakeAgents implements AgentClientFactory {
  calls: AgentCall[] = [];
  ready = new Set<string>();
  constructor(public behaviour: Record<string, AgentBehaviour> = {}) {}

  forAgent(agentId: string): AgentClient {
    return {
      agentId,
      call: async <T>(method: string, args: unknown[] = [], _options?: CallOptions): Promise<T> => {
        this.calls.push({ agentId, method, args });
        const handler = this.behaviour[method];
        return (handler ? await handler(agentId, args) : defaultAnswer(method)) as T;
      },
      send: (method: string, args: unknown[] = []) => {
        this.calls.push({ agentId, method, args });
      },
    };
  }

  async waitUntilReady(agentId: string): Promise<void> {
    if (!this.ready.has(agentId)) throw new Error(`Timed out pinging to ${agentId} after 0 seconds`);
  }

  async close(): Promise<void> {}

  methods(agentId?: string): string[] {
    return this.calls.filter((c) => !agentId || c.agentId === agentId).map((c) => (c.method === 'run_script' ? `run_script ${c.args[0]}` : c.method));
  }
}

function defaultAnswer(method: string): unknown {
  switch (method) {
    case 'get_state':
      return { agent_id: 'x', job_state: 'running', vm: { name: 'vm' } };
    case 'drain':
      return 0;
    case 'apply':
      return 'applied';
    case 'stop':
      return 'stopped';
    case 'start':
      return 'started';
    default:
      return {};
  }
}

/** Records events as "<stage>[ <tags>] | <task> | <state>[ | <status or error>]". */
export class RecordingEventLog implements EventLog {
  lines: string[] = [];
  beginStage(stage: string, _total: number | null, tags: string[] = []): EventStage {
    const desc = tags.length ? `${stage} ${tags.join(', ')}` : stage;
    return {
      track: async (task, fn) => {
        this.lines.push(`${desc} | ${task} | started`);
        try {
          const result = await fn({ status: (text) => this.lines.push(`${desc} | ${task} | in_progress | ${text}`) });
          this.lines.push(`${desc} | ${task} | finished`);
          return result;
        } catch (err) {
          this.lines.push(`${desc} | ${task} | failed | ${(err as Error).message}`);
          throw err;
        }
      },
    };
  }
  warning(message: string): void {
    this.lines.push(`warning | ${message}`);
  }
}

export function fakeTask(events: EventLog = new RecordingEventLog()): TaskContext & { results: string[] } {
  const results: string[] = [];
  return {
    taskId: 1, username: 'admin', events, debug: createLogger('test', undefined, 'silent'), results,
    appendResult: async (line) => {
      results.push(line);
    },
    checkpoint: async () => {},
  };
}

export interface CreatedFakeVm {
  cid: string;
  agentId: string;
  stemcellCid: string;
  cloudProperties: CloudProperties;
  networks: Record<string, NetworkSettings>;
  env: VmEnv;
}

export class FakeCpi implements Cpi {
  vms = new Map<string, CreatedFakeVm>();
  deleted: string[] = [];
  private next = 1;
  constructor(private readonly onCreate: (vm: CreatedFakeVm) => void = () => {}) {}
  async info() {
    return { stemcell_formats: ['fake'] };
  }
  async createStemcell(): Promise<string> {
    return 'stemcell-cid';
  }
  async deleteStemcell(): Promise<void> {}
  async createVm(agentId: string, stemcellCid: string, cloudProperties: CloudProperties, networks: Record<string, NetworkSettings>, _disks: string[], env: VmEnv): Promise<string> {
    const vm = { cid: `vm-${this.next++}`, agentId, stemcellCid, cloudProperties, networks, env };
    this.vms.set(vm.cid, vm);
    this.onCreate(vm);
    return vm.cid;
  }
  async deleteVm(cid: string): Promise<void> {
    this.vms.delete(cid);
    this.deleted.push(cid);
  }
  async hasVm(cid: string): Promise<boolean> {
    return this.vms.has(cid);
  }
}
