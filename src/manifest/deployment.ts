// Deployment manifest parsing: YAML 1.1 -> schema (with BOSH defaults) -> cross-reference checks.
import type { DeploymentManifest, InstanceGroup, ManifestVariable, UpdateBlock } from './types.js';
import { deploymentManifest, manifestVariables } from './schemas.js';
import { interpolate, placeholders } from './interpolate.js';
import { parseYamlMapping, validateAt, errorAt } from './validate.js';
import { ManifestError } from './types.js';
import type { ParsedYaml } from '../common/yaml.js';

export interface ParseOptions {
  /** Values for `((name))` placeholders (the `variables` section itself is never interpolated). */
  variables?: Record<string, unknown>;
}

/** Parses a deployment manifest; any problem throws a ManifestError naming file, path and line. */
export function parseDeploymentManifest(text: string, file: string, options: ParseOptions = {}): DeploymentManifest {
  const parsed = parseYamlMapping(text, file);
  if (options.variables) {
    try {
      parsed.value = interpolate(parsed.value, options.variables, ['variables']);
    } catch (err) {
      throw new ManifestError(file, '', null, (err as Error).message);
    }
  }
  const manifest = validateAt(deploymentManifest, parsed, file) as DeploymentManifest;
  checkReferences(manifest, parsed, file);
  return manifest;
}

function checkUnique(names: string[], parsed: ParsedYaml, file: string, path: (i: number) => Array<string | number>, what: string) {
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (seen.has(name)) throw errorAt(parsed, file, path(i), `Duplicate ${what} name '${name}'`);
    seen.add(name);
  });
}

function checkReferences(manifest: DeploymentManifest, parsed: ParsedYaml, file: string): void {
  const releases = new Set(manifest.releases.map((r) => r.name));
  const aliases = new Set(manifest.stemcells.map((s) => s.alias));
  checkUnique(manifest.releases.map((r) => r.name), parsed, file, (i) => ['releases', i, 'name'], 'release');
  checkUnique(manifest.stemcells.map((s) => s.alias), parsed, file, (i) => ['stemcells', i, 'alias'], 'stemcell alias');
  checkUnique(manifest.instance_groups.map((g) => g.name), parsed, file, (i) => ['instance_groups', i, 'name'], 'instance group');
  manifest.instance_groups.forEach((ig, i) => {
    const at = ['instance_groups', i];
    if (!aliases.has(ig.stemcell)) {
      throw errorAt(parsed, file, [...at, 'stemcell'], `Instance group '${ig.name}' references an unknown stemcell alias '${ig.stemcell}'`);
    }
    checkUnique(ig.jobs.map((j) => j.name), parsed, file, (k) => [...at, 'jobs', k, 'name'], 'job');
    ig.migrated_from?.forEach((from, k) => {
      if (from.az !== undefined && !(ig.azs ?? []).includes(from.az)) {
        throw errorAt(parsed, file, [...at, 'migrated_from', k, 'az'],
          `Instance group '${from.name}' specified for migration to instance group '${ig.name}' refers to availability zone '${from.az}'. `
          + `Az '${from.az}' is not in the list of availability zones of instance group '${ig.name}'.`);
      }
    });
    ig.jobs.forEach((job, k) => {
      if (!releases.has(job.release)) {
        throw errorAt(parsed, file, [...at, 'jobs', k, 'release'], `Job '${job.name}' in instance group '${ig.name}' references an unknown release '${job.release}'`);
      }
    });
  });
}

/** What a manifest needs before it can be interpolated: its declared variables and the placeholders it uses. */
export function manifestPlaceholders(text: string, file: string): { declared: ManifestVariable[]; references: string[] } {
  const parsed = parseYamlMapping(text, file);
  const root = parsed.value as Record<string, unknown>;
  const declared = validateAt(manifestVariables, { ...parsed, value: { variables: root.variables ?? [] } }, file).variables;
  return { declared, references: placeholders(root, ['variables']) };
}

/** The update block an instance group deploys with: its own overrides over the deployment's. */
export function effectiveUpdate(manifest: DeploymentManifest, ig: InstanceGroup): UpdateBlock {
  const overrides = Object.fromEntries(Object.entries(ig.update ?? {}).filter(([, v]) => v !== undefined));
  return { ...manifest.update, ...overrides };
}
