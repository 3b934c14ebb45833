// sync_dns (§2.15): records.json from the blobstore, /etc/hosts rewritten. The dummy platform writes
// <base>/bosh/etc/hosts instead of /etc/hosts (SIMULATED: the host's resolver is not touched).
import { readFile, writeFile, rename, mkdir, rm, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AgentServices } from '../services.js';
import { chownVcap, writeFileAtomic } from '../platform/layout.js';
import { signedGet } from '../signed-url.js';
import { objectArg, stringArg, type Action } from './action.js';

interface DnsRecords {
  version?: number;
  records?: Array<[string, string]>;
}

function versionArg(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error('Unmarshalling action argument: json: cannot unmarshal into Go value of type uint64');
  }
  return value;
}

abstract class SyncDnsBase implements Action {
  abstract readonly name: string;
  readonly isAsynchronous = false;
  abstract readonly requiredArgs: number;
  constructor(protected readonly services: AgentServices) {}
  abstract run(args: unknown[]): Promise<string>;

  protected async sync(version: number, download: () => Promise<string>): Promise<string> {
    const { paths } = this.services;
    const current = JSON.parse(await readFile(paths.dnsRecords, 'utf8').catch(() => '{}')) as DnsRecords;
    if (typeof current.version === 'number' && current.version >= version) return 'synced';
    const blob = await download();
    try {
      const raw = await readFile(blob, 'utf8');
      const records = JSON.parse(raw) as DnsRecords;
      if (records.version !== version) throw new Error('version from unpacked dns blob does not match version supplied by director');
      await this.writeHosts(records.records ?? []);
      await mkdir(dirname(paths.dnsRecords), { recursive: true, mode: 0o755 });
      const tmp = `${paths.dnsRecords}.tmp`;
      await writeFile(tmp, raw);
      await chmod(tmp, 0o640);
      await chownVcap(tmp);
      await rename(tmp, paths.dnsRecords);
    } finally {
      await rm(blob, { force: true });
    }
    return 'synced';
  }

  private async writeHosts(records: Array<[string, string]>): Promise<void> {
    const host = this.services.settings().agent_id;
    const lines = [
      `127.0.0.1 localhost ${host}`,
      '',
      '# The following lines are desirable for IPv6 capable hosts',
      `::1 localhost ip6-localhost ip6-loopback ${host}`,
      'fe00::0 ip6-localnet',
      'ff00::0 ip6-mcastprefix',
      'ff02::1 ip6-allnodes',
      'ff02::2 ip6-allrouters',
      'ff02::3 ip6-allhosts',
      '',
      ...records.map(([ip, name]) => `${ip} ${name}`),
      '',
    ];
    const path = this.services.platform === 'dummy' ? join(this.services.paths.boshEtc, 'hosts') : '/etc/hosts';
    await writeFileAtomic(path, lines.join('\n'), 0o644).catch(async (err: NodeJS.ErrnoException) => {
      // Docker bind-mounts /etc/hosts: it can be rewritten in place but not replaced.
      if (err.code !== 'EBUSY') throw err;
      await writeFile(path, lines.join('\n'));
    });
  }
}

export class SyncDnsAction extends SyncDnsBase {
  readonly name = 'sync_dns';
  readonly requiredArgs = 3;
  async run(args: unknown[]): Promise<string> {
    const id = stringArg(args, 0);
    const digest = stringArg(args, 1);
    return this.sync(versionArg(args[2]), () => this.services.blobs.fetch(id, digest));
  }
}

export class SyncDnsWithSignedUrlAction extends SyncDnsBase {
  readonly name = 'sync_dns_with_signed_url';
  readonly requiredArgs = 1;
  async run(args: unknown[]): Promise<string> {
    const req = objectArg<{ signed_url?: string; multi_digest?: string; version?: number; blobstore_headers?: Record<string, string> }>(args, 0, 'action.SyncDNSWithSignedURLRequest');
    return this.sync(versionArg(req.version), () =>
      signedGet(req.signed_url ?? '', req.blobstore_headers ?? {}, req.multi_digest ?? '', this.services.paths.tmp, { ca: this.services.blobstoreCa() }),
    );
  }
}
