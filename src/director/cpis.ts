// The director's CPIs (director-api.md §5.4): the CPI of its own config is the default (stored as
// cpi '' on vms and stemcells rows, as BOSH does), and the cpi-config (configs of type `cpi`, every
// name's latest version merged) adds named ones. A cloud-config AZ picks a CPI with `cpi: <name>`;
// AZs without one use the default. Every VM row records the CPI that made it, and every later
// call on that VM goes to the same CPI.
import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { badRequest } from '../common/errors.js';
import type { Cpi, CpiLogSink } from '../cpi/cpi.js';
import { createConfiguredCpi, type CpiConfigEntry } from '../cpi/factory.js';
import type { CloudConfig } from '../manifest/types.js';
import type { DirectorConfig } from './config.js';
import type { Director } from './context.js';
import type { Database } from './db/schema.js';

/** The default CPI's name in vms.cpi / stemcells.cpi. */
export const DEFAULT_CPI = '';

const TlsSchema = z.object({ ca: z.string(), certificate: z.string(), private_key: z.string() });

const CpiEntrySchema = z.object({
  name: z.string().min(1),
  type: z.string().min(1),
  exec_path: z.string().optional(),
  properties: z.record(z.string(), z.unknown()).default({}),
  migrated_from: z.array(z.object({ name: z.string() })).optional(),
});

const CpiConfigSchema = z.object({ cpis: z.array(CpiEntrySchema).default([]) });

/** A cpi-config entry with the names it was known by before (`migrated_from`). */
export interface CpiConfigItem {
  entry: CpiConfigEntry;
  migratedFrom: string[];
}

/** Parses one cpi-config text; throws a 400 naming the offending path. */
export function parseCpiConfig(text: string): CpiConfigEntry[] {
  return parseCpiConfigItems(text).map((item) => item.entry);
}

function parseCpiConfigItems(text: string): CpiConfigItem[] {
  const parsed = CpiConfigSchema.safeParse(parseYaml(text) ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(`Invalid cpi-config: ${issue.path.join('.')}: ${issue.message}`, 440001);
  }
  const items = parsed.data.cpis.map(({ migrated_from, ...entry }) => ({ entry, migratedFrom: (migrated_from ?? []).map((m) => m.name) }));
  items.forEach(({ entry }, i) => {
    if (entry.type === 'external' && !entry.exec_path) throw badRequest(`Invalid cpi-config: cpis.${i}: type 'external' needs exec_path`, 440001);
    if (entry.type === 'docker' && entry.properties.tls !== undefined && !TlsSchema.safeParse(entry.properties.tls).success) {
      throw badRequest(`Invalid cpi-config: cpis.${i}.properties.tls: needs ca, certificate and private_key`, 440001);
    }
  });
  return items;
}

/** Every cpi-config name's latest version, merged; CPI names must be unique across them. */
async function configuredItems(db: Kysely<Database>): Promise<CpiConfigItem[]> {
  const rows = await db.selectFrom('configs').select(['id', 'name', 'content']).where('type', '=', 'cpi').where('deleted', '=', 0).orderBy('id', 'desc').execute();
  const latest = new Map<string, string>();
  for (const row of rows) if (!latest.has(row.name)) latest.set(row.name, row.content);
  const items = [...latest.values()].flatMap((text) => parseCpiConfigItems(text));
  const seen = new Set<string>();
  for (const { entry } of items) {
    if (seen.has(entry.name)) throw new Error(`Duplicate CPI name '${entry.name}' in the cpi-configs`);
    seen.add(entry.name);
  }
  return items;
}

export type CpiBuilder = (entry: CpiConfigEntry) => Cpi;

/** Builds cpi-config CPIs with the director's agent settings (NATS, blobstore, agent CA). */
export function configuredCpiBuilder(config: DirectorConfig): CpiBuilder {
  let caPem: string | undefined;
  return (entry) => createConfiguredCpi(entry, config, (caPem ??= readFileSync(config.agent_ca.certificate_path, 'utf8')));
}

export class CpiRegistry {
  /** Built CPIs by their cpi-config entry (JSON), so an unchanged entry keeps its CPI object. */
  private readonly built = new Map<string, Cpi>();
  /** Old name -> current name (`migrated_from`), as of the last cpi-config read. */
  private aliases = new Map<string, string>();

  constructor(
    private readonly db: Kysely<Database>,
    readonly defaultCpi: Cpi,
    /** The default CPI's name for humans (/info): docker, dummy or external. */
    readonly defaultName: string,
    private readonly build?: CpiBuilder,
  ) {}

  /** The same CPIs, each logging its calls to sink (a task's `cpi` output). */
  withCpiLog(sink: CpiLogSink): CpiRegistry {
    const logged = (cpi: Cpi) => cpi.withCpiLog?.(sink) ?? cpi;
    return new CpiRegistry(this.db, logged(this.defaultCpi), this.defaultName, this.build && ((entry) => logged(this.cpiFor(entry))));
  }

  /** Names of the cpi-config's CPIs (without the default). */
  async configuredNames(): Promise<string[]> {
    return (await this.items()).map((i) => i.entry.name);
  }

  private async items(): Promise<CpiConfigItem[]> {
    const items = await configuredItems(this.db);
    this.aliases = new Map(items.flatMap((i) => i.migratedFrom.map((old): [string, string] => [old, i.entry.name])));
    return items;
  }

  /**
   * The current name of a CPI renamed in the cpi-config (`migrated_from`), else the name itself; as of
   * the last cpi-config read (validateAzs reads it at the start of every deploy).
   */
  currentName(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  /**
   * The CPI by name ('' or null: the default; so is the default's own name unless the cpi-config
   * defines it); throws naming the CPI when the cpi-config lacks it.
   */
  async get(name: string | null | undefined, what = ''): Promise<Cpi> {
    if (!name) return this.defaultCpi;
    const items = await this.items();
    const item = items.find((i) => i.entry.name === name) ?? items.find((i) => i.migratedFrom.includes(name));
    if (item) return this.cpiFor(item.entry);
    if (name === this.defaultName) return this.defaultCpi; // rows recorded with the default CPI's name
    throw new Error(`CPI '${name}'${what} not found in cpi-config`);
  }

  /** The CPI that made the VM (vms.cpi). */
  forVm(vm: { cid: string; cpi: string | null }): Promise<Cpi> {
    return this.get(vm.cpi, ` of VM '${vm.cid}'`);
  }

  /** The default CPI first, then every cpi-config CPI. */
  async all(): Promise<Array<{ name: string; cpi: Cpi }>> {
    const items = await this.items();
    return [{ name: DEFAULT_CPI, cpi: this.defaultCpi }, ...items.map(({ entry }) => ({ name: entry.name, cpi: this.cpiFor(entry) }))];
  }

  /** Throws when an AZ names a CPI the cpi-config does not define. */
  async validateAzs(cloudConfig: CloudConfig, azs: Iterable<string>): Promise<void> {
    const names = new Set(await this.configuredNames());
    for (const az of new Set(azs)) {
      const cpi = azCpiName(cloudConfig, az);
      if (cpi && !names.has(cpi)) {
        throw new Error(`CPI '${cpi}' was defined for AZ '${az}' but not found in cpi-config${names.size ? ` (CPIs: ${[...names].join(', ')})` : ''}`);
      }
    }
  }

  private cpiFor(entry: CpiConfigEntry): Cpi {
    if (!this.build) throw new Error(`CPI '${entry.name}': this director cannot build cpi-config CPIs`);
    const key = JSON.stringify(entry);
    let cpi = this.built.get(key);
    if (!cpi) this.built.set(key, (cpi = this.build(entry)));
    return cpi;
  }
}

/** The CPI name an AZ maps to ('' = default, also for no AZ). */
export function azCpiName(cloudConfig: CloudConfig, az: string | null | undefined): string {
  if (!az) return DEFAULT_CPI;
  return cloudConfig.azs.find((a) => a.name === az)?.cpi ?? DEFAULT_CPI;
}

const fallbacks = new WeakMap<Director, CpiRegistry>();

/** The director's CPI registry (a default-only one for Director objects built without one, e.g. by tests). */
export function cpiRegistry(director: Director): CpiRegistry {
  if (director.cpis) return director.cpis;
  let registry = fallbacks.get(director);
  if (!registry) fallbacks.set(director, (registry = new CpiRegistry(director.db, director.cpi, director.cpiName)));
  return registry;
}

/** The stemcell's cid in the given CPI (one stemcells row per CPI). */
export async function stemcellCidFor(director: Director, stemcell: { name: string; version: string; cid: string }, cpiName: string): Promise<string> {
  const rows = await director.db.selectFrom('stemcells').select(['cid', 'cpi']).where('name', '=', stemcell.name).where('version', '=', stemcell.version).execute();
  const registry = cpiRegistry(director);
  await registry.configuredNames(); // current migrated_from names
  const row = rows.find((r) => r.cpi === cpiName) ?? rows.find((r) => r.cpi !== DEFAULT_CPI && registry.currentName(r.cpi) === cpiName);
  if (row) return row.cid;
  if (cpiName === DEFAULT_CPI && rows.length === 0) return stemcell.cid; // test fakes without a stemcells row
  throw new Error(`Stemcell '${stemcell.name}/${stemcell.version}' is not uploaded to CPI '${cpiName}': upload it again (capstan upload-stemcell)`);
}
