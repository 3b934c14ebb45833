import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AgentServices } from '../services.js';
import { objectArg, type Action } from './action.js';

const execFileP = promisify(execFile);

/** `ip neigh flush to <ip>` per IP, errors ignored; the dummy platform only logs (§2.16). */
export class DeleteArpEntriesAction implements Action {
  readonly name = 'delete_arp_entries';
  readonly isAsynchronous = false;
  readonly requiredArgs = 1;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<Record<string, never>> {
    const ips = objectArg<{ ips?: string[] }>(args, 0, 'action.DeleteARPEntriesActionArgs').ips ?? [];
    for (const ip of ips) {
      if (this.services.platform === 'dummy') {
        this.services.logger.info({ ip }, 'delete_arp_entries: simulated on the dummy platform');
        continue;
      }
      await execFileP('ip', ['neigh', 'flush', 'to', String(ip)]).catch((err: Error) => this.services.logger.warn({ ip, err: err.message }, 'Deleting ARP entry'));
    }
    return {};
  }
}
