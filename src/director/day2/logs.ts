// Fetching logs (director-api.md §2.5, §6.5): every chosen instance's agent tars its logs into the
// blobstore; several instances' tarballs are packed together into one. The result is a blobstore id
// that GET /resources/<id> serves.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import type { Director, TaskContext } from '../context.js';
import { activeVm, instanceLabel, type InstanceRow } from './instances.js';

/** What an agent's fetch_logs answers. */
interface LogsBlob {
  blobstore_id: string;
  sha1: string;
}

const FETCH_LOGS_TIMEOUT_MS = 10 * 60_000;

export async function fetchInstanceLogs(director: Director, task: TaskContext, rows: InstanceRow[], logType: string, filters: string[] | null): Promise<string> {
  const withVm: Array<{ row: InstanceRow; agentId: string }> = [];
  for (const row of rows) {
    const vm = await activeVm(director.db, row.id);
    if (vm) withVm.push({ row, agentId: vm.agent_id });
  }
  if (withVm.length === 0) throw new Error('No instances with a VM to fetch logs from');
  const blobs: Array<{ row: InstanceRow; blob: LogsBlob }> = [];
  for (const { row, agentId } of withVm) {
    await task.checkpoint();
    const blob = await task.events.beginStage(`Fetching logs for ${instanceLabel(row)}`, 1).track('Finding and packing log files', () =>
      director.agents.forAgent(agentId).call<LogsBlob>('fetch_logs', [logType, filters], { taskTimeoutMs: FETCH_LOGS_TIMEOUT_MS }),
    );
    blobs.push({ row, blob });
  }
  if (blobs.length === 1) return blobs[0].blob.blobstore_id;
  return task.events.beginStage('Fetching group of logs', 1).track('Packing log files together', () => packTogether(director, blobs));
}

/** One tarball holding `<group>.<uuid>.tgz` per instance; the per-instance blobs are deleted. */
async function packTogether(director: Director, blobs: Array<{ row: InstanceRow; blob: LogsBlob }>): Promise<string> {
  const tmp = join(director.config.base_dir, 'tmp');
  await mkdir(tmp, { recursive: true });
  const dir = await mkdtemp(join(tmp, 'logs-'));
  try {
    const names: string[] = [];
    for (const { row, blob } of blobs) {
      const name = `${row.job}.${row.uuid}.tgz`;
      await director.blobstore.get(blob.blobstore_id, join(dir, name));
      names.push(name);
    }
    const packed = join(dir, 'packed.tgz');
    await createTar({ gzip: true, file: packed, cwd: dir, portable: true }, names);
    const id = await director.blobstore.put(packed);
    for (const { blob } of blobs) await director.blobstore.delete(blob.blobstore_id).catch(() => undefined);
    return id;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
