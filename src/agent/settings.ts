// agent.json (bosh-agent format + the "Capstan" extension) and settings.json loading (agent-protocol.md §4).
import { readFile, writeFile, mkdir, rename, stat, mkdtemp, rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import type { AgentSettings, BlobstoreSettings, MbusCert } from '../common/protocol.js';

export interface SettingsSource {
  Type: string;
  SettingsPath?: string;
  [extra: string]: unknown;
}

export type MonitMode = 'runit' | 'spawn';

export interface CapstanAgentOptions {
  MonitPort: number;
  AlertSmtpPort: number;
  Monit: MonitMode;
  /** Spawn mode only: monit's `set daemon` cycle in seconds (default 10, like the stemcell). */
  MonitPollSeconds?: number;
  /** How long `stop` waits for monit to stop the jobs (bosh-agent: 300). Tests shorten it. */
  StopTimeoutSeconds?: number;
  /** How long one of the 3 monit reload attempts waits for a new incarnation (bosh-agent: 10). */
  ReloadTimeoutSeconds?: number;
}

export interface AgentConfig {
  Platform: Record<string, unknown>;
  Infrastructure: { Settings: { Sources: SettingsSource[] } };
  Capstan: CapstanAgentOptions;
}

const CAPSTAN_DEFAULTS: CapstanAgentOptions = { MonitPort: 2822, AlertSmtpPort: 2825, Monit: 'runit' };

export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  let raw: Partial<AgentConfig>;
  try {
    raw = JSON.parse(await readFile(path, 'utf8')) as Partial<AgentConfig>;
  } catch (err) {
    throw new Error(`Loading agent config '${path}': ${(err as Error).message}`);
  }
  const sources = raw.Infrastructure?.Settings?.Sources ?? [];
  if (!Array.isArray(sources) || sources.length === 0) {
    throw new Error(`Loading agent config '${path}': Infrastructure.Settings.Sources must list at least one source`);
  }
  const capstan = { ...CAPSTAN_DEFAULTS, ...(raw.Capstan ?? {}) };
  if (capstan.Monit !== 'runit' && capstan.Monit !== 'spawn') {
    throw new Error(`Loading agent config '${path}': Capstan.Monit must be 'runit' or 'spawn'`);
  }
  for (const key of ['StopTimeoutSeconds', 'ReloadTimeoutSeconds'] as const) {
    const value = capstan[key];
    if (value !== undefined && !(typeof value === 'number' && value > 0)) {
      throw new Error(`Loading agent config '${path}': Capstan.${key} must be a positive number of seconds`);
    }
  }
  return { Platform: raw.Platform ?? {}, Infrastructure: { Settings: { Sources: sources } }, Capstan: capstan };
}

const execFileP = promisify(execFile);

function checkedSettings(parsed: unknown, where: string): AgentSettings {
  const settings = parsed as AgentSettings;
  if (!settings || typeof settings.agent_id !== 'string' || !settings.agent_id) throw new Error(`Settings from ${where} have no agent_id`);
  return normalizeSettings(settings);
}

async function readSource(source: SettingsSource): Promise<AgentSettings> {
  switch (source.Type) {
    case 'File':
      if (!source.SettingsPath) throw new Error('File settings source needs SettingsPath');
      return checkedSettings(JSON.parse(await readFile(source.SettingsPath, 'utf8')), `'${source.SettingsPath}'`);
    case 'HTTP':
      return readHttpSource(source);
    case 'ConfigDrive':
      return readConfigDrive(source);
    default:
      throw new Error(`Settings source type '${source.Type}' is not supported`);
  }
}

interface UserData {
  agent_id?: string;
  registry?: { endpoint?: string };
  server?: { name?: string };
  [extra: string]: unknown;
}

async function httpText(url: string, headers: Record<string, string>, method = 'GET'): Promise<string> {
  const res = await fetch(url, { method, headers, signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: status ${res.status}`);
  return body;
}

/** User data either embeds the settings (agent_id present) or points at a registry (§4.1). */
async function settingsFromUserData(userData: UserData, instanceId: () => Promise<string>, headers: Record<string, string>): Promise<AgentSettings> {
  if (userData.agent_id) return checkedSettings(userData, 'user data');
  const endpoint = userData.registry?.endpoint;
  if (!endpoint) throw new Error('User data has neither settings nor registry.endpoint');
  const id = userData.server?.name || (await instanceId());
  const body = JSON.parse(await httpText(`${endpoint.replace(/\/$/, '')}/instances/${id}/settings`, headers)) as { settings?: string };
  if (typeof body.settings !== 'string') throw new Error('Registry answer has no settings');
  return checkedSettings(JSON.parse(body.settings), 'the registry');
}

/** HTTP metadata service (OpenStack/AWS style), with an optional IMDSv2 token (§4.1). */
async function readHttpSource(source: SettingsSource): Promise<AgentSettings> {
  const uri = String(source.URI ?? '');
  if (!uri) throw new Error('HTTP settings source needs URI');
  const headers: Record<string, string> = { ...((source.Headers as Record<string, string>) ?? {}) };
  if (source.TokenPath) {
    const token = await httpText(`${uri}${String(source.TokenPath)}`, { 'X-aws-ec2-metadata-token-ttl-seconds': '300' }, 'PUT');
    headers['X-aws-ec2-metadata-token'] = token.trim();
  }
  const userData = JSON.parse(await httpText(`${uri}${String(source.UserDataPath ?? '/latest/user-data')}`, headers)) as UserData;
  const instanceId = async () => (await httpText(`${uri}${String(source.InstanceIDPath ?? '/latest/meta-data/instance-id')}`, headers)).trim();
  return settingsFromUserData(userData, instanceId, headers);
}

/** Config drive: a labelled disk (or, for tests and the dummy platform, a directory) holding user data. */
async function readConfigDrive(source: SettingsSource): Promise<AgentSettings> {
  const disks = (source.DiskPaths as string[] | undefined) ?? [];
  const errors: string[] = [];
  for (const disk of disks) {
    try {
      return await withConfigDrive(disk, async (root) => {
        const settingsPath = source.SettingsPath ? join(root, String(source.SettingsPath)) : undefined;
        if (settingsPath && (await stat(settingsPath).catch(() => undefined))) {
          return checkedSettings(JSON.parse(await readFile(settingsPath, 'utf8')), `'${disk}'`);
        }
        const userData = JSON.parse(await readFile(join(root, String(source.UserDataPath ?? 'ec2/latest/user-data')), 'utf8')) as UserData;
        const metaPath = join(root, String(source.MetaDataPath ?? 'ec2/latest/meta-data.json'));
        const instanceId = async () => {
          const meta = JSON.parse(await readFile(metaPath, 'utf8')) as { 'instance-id'?: string; uuid?: string };
          return meta['instance-id'] ?? meta.uuid ?? '';
        };
        return settingsFromUserData(userData, instanceId, {});
      });
    } catch (err) {
      errors.push(`${disk}: ${(err as Error).message}`);
    }
  }
  throw new Error(`Reading config drive: ${errors.join('; ') || 'no DiskPaths'}`);
}

async function withConfigDrive<T>(disk: string, read: (root: string) => Promise<T>): Promise<T> {
  if ((await stat(disk)).isDirectory()) return read(disk);
  const mountPoint = await mkdtemp(join(tmpdir(), 'config-drive-'));
  try {
    await execFileP('mount', ['-o', 'ro', disk, mountPoint]);
    try {
      return await read(mountPoint);
    } finally {
      await execFileP('umount', [mountPoint]).catch(() => undefined);
    }
  } finally {
    await rm(mountPoint, { recursive: true, force: true });
  }
}

function normalizeSettings(s: AgentSettings): AgentSettings {
  return {
    ...s,
    blobstore: s.blobstore ?? { provider: 'local', options: {} },
    disks: s.disks ?? {},
    env: s.env ?? {},
    networks: s.networks ?? {},
    ntp: s.ntp ?? [],
    mbus: s.mbus ?? '',
    vm: s.vm ?? { name: '' },
  };
}

/**
 * Tries each source in order (first success sticks), caches the result in cachePath; when every
 * source fails, falls back to the cached copy (§4.2 persistence).
 */
export async function loadSettings(sources: SettingsSource[], cachePath: string): Promise<AgentSettings> {
  const errors: string[] = [];
  for (const source of sources) {
    try {
      const settings = await readSource(source);
      await mkdir(dirname(cachePath), { recursive: true });
      await writeFile(`${cachePath}.tmp`, JSON.stringify(settings), { mode: 0o600 });
      await rename(`${cachePath}.tmp`, cachePath);
      return settings;
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  try {
    return normalizeSettings(JSON.parse(await readFile(cachePath, 'utf8')) as AgentSettings);
  } catch {
    throw new Error(`Fetching settings: ${errors.join('; ')}`);
  }
}

/** update_settings.json (§2.13): what the director changed after the VM was created. */
export interface UpdateSettings {
  trusted_certs?: string;
  disk_associations?: Array<{ name: string; cid: string }>;
  mbus?: { cert?: MbusCert; urls?: string[] };
  blobstores?: BlobstoreSettings[] | null;
}

export async function loadUpdateSettings(path: string): Promise<UpdateSettings> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as UpdateSettings;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`Reading '${path}': ${(err as Error).message}`);
  }
}

/** blobstore precedence: update_settings.blobstores[0] -> env.bosh.blobstores[0] -> blobstore (§4.2). */
export function effectiveBlobstore(settings: AgentSettings, update: UpdateSettings = {}): BlobstoreSettings {
  return update.blobstores?.[0] ?? settings.env.bosh?.blobstores?.[0] ?? settings.blobstore;
}

/** mbus precedence: update_settings mbus.urls -> env.bosh.mbus.urls -> mbus (§1.1); several URLs form one cluster. */
export function mbusUrls(settings: AgentSettings, update: UpdateSettings = {}): string[] {
  if (update.mbus?.urls?.length) return update.mbus.urls;
  const urls = settings.env.bosh?.mbus?.urls;
  return urls && urls.length > 0 ? urls : settings.mbus ? [settings.mbus] : [];
}

/** update_settings' cert wins when its CA is set (§1.1). */
export function mbusCert(settings: AgentSettings, update: UpdateSettings = {}): MbusCert | undefined {
  if (update.mbus?.cert?.ca) return update.mbus.cert;
  return settings.env.bosh?.mbus?.cert;
}
