// Updating instances (director-api.md §6.4): stop sequence, apply, start sequence, waiting until
// the agent reports the jobs running; canaries first, then batches of max_in_flight.
import type { ApplySpec, AgentState } from '../../common/protocol.js';
import { CapstanError } from '../../common/errors.js';
import type { UpdateBlock } from '../../manifest/types.js';
import type { AgentClient, AgentClientFactory } from '../agent-client.js';
import type { EventLog, EventStep } from '../context.js';

export interface InstanceUpdate {
  /** `<ig>/<uuid> (<index>)` */
  name: string;
  agentId: string;
  spec: ApplySpec;
  /** Jobs from an earlier apply may be running: drain and stop them first. */
  hasRunningJobs: boolean;
  /** Errand instances are applied but not started. */
  start: boolean;
  /** Set when the VM must be replaced (stemcell, network or cloud properties changed): returns the new agent id. */
  recreateVm?: () => Promise<string>;
  /** `--skip-drain`: no pre-stop and no drain before stopping. */
  skipDrain?: boolean;
  /** Attaches, creates or migrates the persistent disk on the (possibly new) VM, before apply (disk-manager.ts). */
  updateDisks?: () => Promise<void>;
  /** The persistent disk will be replaced or removed: drain with type `shutdown`. */
  diskChanging?: boolean;
  /** The kept VM's agent settings changed (trusted certs, NATS, blobstore): update_settings (§6.4 step 3). */
  updateSettings?: () => Promise<void>;
}

export interface UpdaterOptions {
  agents: AgentClientFactory;
  events: EventLog;
  update: UpdateBlock;
  /** Called between instances; throws when the task was cancelled. */
  checkpoint?: () => Promise<void>;
  /** Called after each instance is updated (persist the applied spec). */
  onUpdated?: (update: InstanceUpdate) => Promise<void>;
  sleep?: (ms: number) => Promise<void>;
}

const STOP_TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 90_000;
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** "N%" of `total` (at least 1), or the number itself. */
export function resolveCount(value: number | string, total: number): number {
  if (typeof value === 'string' && value.trim().endsWith('%')) {
    return Math.max(1, Math.floor((total * Number(value.trim().slice(0, -1))) / 100));
  }
  return Number(value);
}

/** The sleeps between get_state checks: min, then steps of clamp((max-min)/9, 1 s, 15 s) up to max. */
export function watchSchedule(minMs: number, maxMs: number): number[] {
  const step = Math.min(15_000, Math.max(1_000, (maxMs - minMs) / 9));
  const extra = Math.max(0, Math.floor((maxMs - minMs) / step + 1e-9));
  return [minMs, ...Array.from({ length: extra }, () => step)];
}

/** Updates one instance group: canaries (in parallel up to max_in_flight), then the rest. */
export async function updateInstanceGroup(group: string, updates: InstanceUpdate[], options: UpdaterOptions): Promise<void> {
  if (updates.length === 0) return;
  const stage = options.events.beginStage(`Updating instance`, updates.length, [group]);
  const maxInFlight = Math.max(1, resolveCount(options.update.max_in_flight, updates.length));
  const canaryCount = Math.min(byAz(updates)[0].length, resolveCount(options.update.canaries, updates.length));
  const run = (update: InstanceUpdate, canary: boolean) =>
    stage.track(`${update.name}${canary ? ' (canary)' : ''}`, (step) => updateInstance(update, canary, step, options));
  const [first, ...others] = byAz(updates);
  await inParallel(first.slice(0, canaryCount), maxInFlight, (u) => run(u, true), options.checkpoint);
  await inParallel(first.slice(canaryCount), maxInFlight, (u) => run(u, false), options.checkpoint);
  for (const az of others) await inParallel(az, maxInFlight, (u) => run(u, false), options.checkpoint);
}

/** Updates go AZ by AZ (in the order the AZs first appear); canaries come from the first AZ (§6.1). */
function byAz(updates: InstanceUpdate[]): InstanceUpdate[][] {
  const groups = new Map<string | null | undefined, InstanceUpdate[]>();
  for (const update of updates) {
    const az = update.spec.az;
    if (!groups.has(az)) groups.set(az, []);
    groups.get(az)!.push(update);
  }
  return [...groups.values()];
}

/** Runs fn over items with at most `limit` in flight; stops starting new ones after a failure. */
export async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, checkpoint?: () => Promise<void>): Promise<void> {
  const queue = [...items];
  const errors: unknown[] = [];
  const worker = async () => {
    while (queue.length > 0 && errors.length === 0) {
      const item = queue.shift()!;
      try {
        await checkpoint?.();
        await fn(item);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

export async function updateInstance(update: InstanceUpdate, canary: boolean, step: EventStep, options: UpdaterOptions): Promise<void> {
  let agent = options.agents.forAgent(update.agentId);
  if (update.hasRunningJobs) await stopSequence(agent, update.spec, step, update.recreateVm || update.diskChanging ? 'shutdown' : 'update', update.skipDrain ?? false);
  if (update.recreateVm) {
    update.agentId = await update.recreateVm();
    agent = options.agents.forAgent(update.agentId);
  } else {
    await update.updateSettings?.();
  }
  await update.updateDisks?.();
  step.status('installing packages');
  await agent.call('apply', [update.spec]);
  step.status('configuring jobs');
  if (update.start) await startSequence(agent, update, canary, step, options);
  await options.onUpdated?.(update);
}

export async function stopSequence(agent: AgentClient, spec: ApplySpec | null, step: EventStep | null, drainType = 'update', skipDrain = false): Promise<void> {
  if (!skipDrain) {
    step?.status('executing pre-stop');
    await runScript(agent, 'pre-stop', { env: { BOSH_VM_NEXT_STATE: 'keep', BOSH_INSTANCE_NEXT_STATE: 'keep', BOSH_DEPLOYMENT_NEXT_STATE: 'keep' } });
    step?.status('executing drain');
    const seconds = await agent.call<number>('drain', spec ? [drainType, spec] : [drainType]);
    if (typeof seconds === 'number' && seconds > 0) await defaultSleep(seconds * 1000);
  }
  step?.status('stopping jobs');
  await agent.call('stop', [], { taskTimeoutMs: STOP_TIMEOUT_MS }).catch((err: Error) => {
    if (!/Timed out waiting for service/.test(err.message)) throw err;
  });
  step?.status('executing post-stop');
  await runScript(agent, 'post-stop', {});
}

async function startSequence(agent: AgentClient, update: InstanceUpdate, canary: boolean, step: EventStep, options: UpdaterOptions): Promise<void> {
  step.status('executing pre-start');
  await runScript(agent, 'pre-start', {});
  step.status('starting jobs');
  await agent.call('start', [], { timeoutMs: START_TIMEOUT_MS });
  const watch = canary ? options.update.canary_watch_time : options.update.update_watch_time;
  await waitUntilRunning(agent, update.name, watch.min, watch.max, options.sleep ?? defaultSleep);
  step.status('executing post-start');
  await runScript(agent, 'post-start', {});
}

export async function waitUntilRunning(agent: AgentClient, name: string, minMs: number, maxMs: number, sleep: (ms: number) => Promise<void>): Promise<void> {
  let state: AgentState | null = null;
  for (const delay of watchSchedule(minMs, maxMs)) {
    await sleep(delay);
    state = await agent.call<AgentState>('get_state');
    if (state.job_state === 'running') return;
  }
  const failing = (state?.processes ?? []).filter((p) => p.state !== 'running').map((p) => p.name);
  const suffix = failing.length ? ` Review logs for failed jobs: ${failing.join(', ')}` : '';
  throw new CapstanError(`'${name}' is not running after update.${suffix}`, 400007, 400);
}

/** run_script for scripts without an event step (post-deploy on every instance). */
export async function runInstanceScript(agent: AgentClient, name: string): Promise<void> {
  await runScript(agent, name, {});
}

/** run_script; an agent that does not know the method is fine (§6.4). */
async function runScript(agent: AgentClient, name: string, options: Record<string, unknown>): Promise<void> {
  await agent.call('run_script', [name, options]).catch((err: Error) => {
    if (!/unknown message/.test(err.message)) throw err;
  });
}
