// ssh (POST /deployments/<d>/ssh): setup or cleanup of a temporary user on the targeted instances.
import type { TaskJob } from '../../context.js';
import { runSsh, type SshPayload } from '../../day2/ssh.js';

export const sshJob: TaskJob = async (director, task, payload: SshPayload) => {
  const count = await runSsh(director, task, payload);
  return `ssh ${payload.command} on ${count} instance(s)`;
};
