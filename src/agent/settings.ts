// agent.json (bosh-agent format + the "Capstan" extension) and settings.json loading (agent-protocol.md §4).
import { readFile, writeFile, mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
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
  return { Platform: raw.Platform ?? {}, Infrastructure: { Settings: { Sources: sources } }, Capstan: capstan };
}

async function readSource(source: SettingsSource): Promise<AgentSettings> {
  if (source.Type !== 'File') throw new Error(`Settings source type '${source.Type}' is not supported`);
  if (!source.SettingsPath) throw new Error('File settings source needs SettingsPath');
  const parsed = JSON.parse(await readFile(source.SettingsPath, 'utf8')) as AgentSettings;
  if (!parsed || typeof parsed.agent_id !== 'string' || !parsed.agent_id) {
    throw new Error(`Settings '${source.SettingsPath}' have no agent_id`);
  }
  return normalizeSettings(parsed);
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

/** blobstore precedence: env.bosh.blobstores[0] -> blobstore (§4.2). */
export function effectiveBlobstore(settings: AgentSettings): BlobstoreSettings {
  return settings.env.bosh?.blobstores?.[0] ?? settings.blobstore;
}

/** mbus precedence: env.bosh.mbus.urls -> mbus (§1.1); several URLs form one cluster. */
export function mbusUrls(settings: AgentSettings): string[] {
  const urls = settings.env.bosh?.mbus?.urls;
  return urls && urls.length > 0 ? urls : settings.mbus ? [settings.mbus] : [];
}

export function mbusCert(settings: AgentSettings): MbusCert | undefined {
  return settings.env.bosh?.mbus?.cert;
}
