// Reading what the director and the dummy VMs say about the day2 deployment's instances.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOYMENT, type Day2Env } from './day2-env.js';

export interface InstanceInfo {
  vm_cid: string | null;
  agent_id: string | null;
  job_name: string;
  index: number;
  id: string;
  state: string;
  job_state: string | null;
  ips: string[];
  ignore: boolean;
  processes: Array<{ name: string; state: string }>;
}

/** GET /deployments/day2/instances?format=full, through its task, one object per line. */
export async function instanceInfos(env: Day2Env): Promise<InstanceInfo[]> {
  const task = await env.task('GET', `/deployments/${DEPLOYMENT}/instances`, { query: { format: 'full' } });
  if (task.state !== 'done') throw new Error(`instances task ${task.id} ${task.state}: ${task.result}`);
  const text = await env.client.taskOutput(task.id, 'result');
  return text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as InstanceInfo).sort((a, b) => a.index - b.index);
}

/** The pid of the ticker job's loop on the instance (written by its ctl script). */
export function jobPid(env: Day2Env, instanceId: string): number {
  return Number(readFileSync(join(env.runRoot, `${instanceId}.pid`), 'utf8').trim());
}
