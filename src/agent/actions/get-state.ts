import type { AgentState } from '../../common/protocol.js';
import type { AgentServices } from '../services.js';
import { stringArg, type Action } from './action.js';

/** The persisted spec plus agent_id, job_state, processes, vm and (with "full") vitals (§2.3). */
export class GetStateAction implements Action {
  readonly name = 'get_state';
  readonly isAsynchronous = false;
  readonly requiredArgs = 0;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<AgentState> {
    const full = args.length > 0 && stringArg(args, 0) === 'full';
    const { supervisor, specStore } = this.services;
    const settings = this.services.settings();
    const spec = await specStore.read();
    const jobState = await supervisor.jobState();
    const processes = await supervisor.processes().catch((err: Error) => {
      throw new Error(`Getting processes status: ${err.message}`);
    });
    const state: AgentState = {
      ...spec,
      networks: spec.networks ?? {},
      resource_pool: spec.resource_pool ?? {},
      packages: spec.packages ?? {},
      agent_id: settings.agent_id,
      job_state: jobState,
      vm: { name: settings.vm?.name ?? '' },
    };
    if (full) state.vitals = await this.services.vitals();
    if (processes.length > 0) state.processes = processes;
    return state;
  }
}
