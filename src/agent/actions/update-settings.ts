// update_settings (§2.13): persistent task. Trusted certs, disk associations, update_settings.json;
// a changed NATS mbus (certificate rotation) is taken by reconnecting in-process, changed
// blobstores (a new credential) by switching the blob client in-process: unlike bosh-agent, no
// restart, so agents without a supervisor (dummy CPI) survive a deploy's settings update. A changed
// HTTPS mbus makes the agent exit so its supervisor restarts it with the new settings; the
// restarted agent resumes the task from tasks.json and answers "ok".
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentServices } from '../services.js';
import type { UpdateSettings } from '../settings.js';
import { objectArg, type Action } from './action.js';

const execFileP = promisify(execFile);
const CERT_DIR = '/usr/local/share/ca-certificates';
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

export class UpdateSettingsAction implements Action {
  readonly name = 'update_settings';
  readonly isAsynchronous = true;
  readonly isPersistent = true;
  readonly requiredArgs = 1;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<string> {
    const update = objectArg<UpdateSettings>(args, 0, 'settings.UpdateSettings');
    await this.services.reloadSettings();
    await this.services.disks.associate(update.disk_associations ?? []);
    await this.installTrustedCerts(update.trusted_certs ?? '');
    const current = this.services.updateSettings();
    const merged: UpdateSettings = { ...current, trusted_certs: update.trusted_certs ?? '', disk_associations: update.disk_associations ?? [] };
    const mbusChanged = hasMbus(update) && JSON.stringify(update.mbus) !== JSON.stringify(current.mbus);
    const blobstoresChanged = update.blobstores != null && JSON.stringify(update.blobstores) !== JSON.stringify(current.blobstores);
    if (mbusChanged) merged.mbus = update.mbus;
    if (blobstoresChanged) merged.blobstores = update.blobstores;
    // A new NATS certificate (rotation) is taken in-process: connected before it is saved, so a
    // certificate NATS refuses fails this task and leaves the agent on the old one.
    const reconnected = mbusChanged && (await this.services.reconnectMbus(merged));
    if (blobstoresChanged) this.services.useBlobstore(merged);
    await this.services.saveUpdateSettings(merged);
    if (mbusChanged && !reconnected) {
      // Never returns: the restarted agent resumes this task and answers "ok".
      await this.services.requestRestart('update_settings changed the mbus');
    }
    return 'ok';
  }

  async resume(): Promise<string> {
    return 'ok';
  }

  /** ubuntu: the system trust store; dummy: SIMULATED, the PEMs go to <base>/bosh/etc/trusted_certs only. */
  private async installTrustedCerts(bundle: string): Promise<void> {
    const dummy = this.services.platform === 'dummy';
    const dir = dummy ? join(this.services.paths.boshEtc, 'trusted_certs') : CERT_DIR;
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(dir)) if (name.startsWith('bosh-trusted-cert-')) await rm(join(dir, name), { force: true });
    const certs = bundle.match(PEM_CERT) ?? [];
    for (const [i, pem] of certs.entries()) await writeFile(join(dir, `bosh-trusted-cert-${i + 1}.crt`), `${pem}\n`, { mode: 0o644 });
    if (dummy) return;
    let last: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await execFileP('update-ca-certificates', ['-f'], { timeout: 60_000 });
        return;
      } catch (err) {
        last = err as Error;
      }
    }
    throw new Error(`Updating trusted certs: ${last?.message}`);
  }
}

function hasMbus(update: UpdateSettings): boolean {
  const m = update.mbus;
  return Boolean(m && ((m.urls && m.urls.length > 0) || m.cert?.ca || m.cert?.certificate));
}
