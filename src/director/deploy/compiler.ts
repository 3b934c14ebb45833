// Package compilation (director-api.md §6.2): the packages the jobs need plus their transitive
// dependencies, per stemcell; reuse compiled packages from the DB, compile the rest on throwaway
// compilation VMs, at most `compilation.workers` at a time, dependencies first.
import { createHash, randomUUID } from 'node:crypto';
import type { ApplySpecPackage, CompileDependency, CompileResult } from '../../common/protocol.js';
import type { CloudConfig } from '../../manifest/types.js';
import type { Director, TaskContext } from '../context.js';
import { reserveNetworks, releaseInstanceIps } from './planner.js';
import type { ResolvedPackage, ResolvedRelease, ResolvedStemcell } from './releases.js';
import { createVm, deleteVm } from './vm-creator.js';
import { compilationCloudProperties } from './cloud-properties.js';
import { azCpiName } from '../cpis.js';

/** Packages one instance group needs on one stemcell. */
export interface PackageNeed {
  release: ResolvedRelease;
  stemcell: ResolvedStemcell;
  packageNames: string[];
}

interface CompileNode {
  key: string;
  pkg: ResolvedPackage;
  release: ResolvedRelease;
  stemcell: ResolvedStemcell;
  /** Keys of every transitive dependency. */
  dependencyKeys: string[];
  dependencyKey: string;
}

export const compiledKey = (stemcellId: number, packageId: number) => `${stemcellId}:${packageId}`;

/** JSON of the nested `[name, version, [deps...]]` of the package's dependencies, sorted by name. */
export function dependencyKey(pkg: ResolvedPackage, release: ResolvedRelease): string {
  const nested = (p: ResolvedPackage, seen: string[]): unknown[] =>
    [...p.dependencies].sort().map((name) => {
      const dep = lookupPackage(release, name, p.name);
      if (seen.includes(name)) throw new Error(`Package '${p.name}' has a circular dependency on '${name}'`);
      return [dep.name, dep.version, nested(dep, [...seen, name])];
    });
  return JSON.stringify(nested(pkg, [pkg.name]));
}

function lookupPackage(release: ResolvedRelease, name: string, neededBy: string): ResolvedPackage {
  const pkg = release.packages.get(name);
  if (!pkg) throw new Error(`Package '${name}' needed by '${neededBy}' is not in release '${release.name}/${release.version}'`);
  return pkg;
}

function buildGraph(needs: PackageNeed[]): Map<string, CompileNode> {
  const nodes = new Map<string, CompileNode>();
  const visit = (release: ResolvedRelease, stemcell: ResolvedStemcell, pkg: ResolvedPackage): CompileNode => {
    const key = compiledKey(stemcell.id, pkg.id);
    const existing = nodes.get(key);
    if (existing) return existing;
    const node: CompileNode = { key, pkg, release, stemcell, dependencyKeys: [], dependencyKey: dependencyKey(pkg, release) };
    nodes.set(key, node);
    const deps = new Set<string>();
    for (const name of pkg.dependencies) {
      const dep = visit(release, stemcell, lookupPackage(release, name, pkg.name));
      deps.add(dep.key);
      for (const k of dep.dependencyKeys) deps.add(k);
    }
    node.dependencyKeys = [...deps];
    return node;
  };
  for (const need of needs) {
    for (const name of need.packageNames) visit(need.release, need.stemcell, lookupPackage(need.release, name, 'a job'));
  }
  return nodes;
}

export interface CompileOptions {
  deployment: string;
  deploymentId: number;
  cloudConfig: CloudConfig;
}

/** Returns every needed package, compiled, keyed by compiledKey(stemcell, package). */
export async function compilePackages(
  director: Director,
  task: TaskContext,
  needs: PackageNeed[],
  options: CompileOptions,
): Promise<Map<string, ApplySpecPackage>> {
  const compiled = new Map<string, ApplySpecPackage>();
  const finding = task.events.beginStage('Preparing package compilation', 1);
  const toCompile = await finding.track('Finding packages to compile', async () => {
    const nodes = buildGraph(needs);
    const missing: CompileNode[] = [];
    for (const node of nodes.values()) {
      const found = await findCompiled(director, node);
      if (found) compiled.set(node.key, found);
      else if (!node.pkg.blobstoreId) {
        throw new Error(`Can't find compiled version for package '${node.pkg.name}' for stemcell '${node.stemcell.operatingSystem}/${node.stemcell.version}'`);
      } else missing.push(node);
    }
    return missing;
  });
  if (toCompile.length === 0) return compiled;

  const stage = task.events.beginStage('Compiling packages', toCompile.length);
  const workers = Math.max(1, options.cloudConfig.compilation.workers);
  const slots = new Semaphore(workers);
  const byKey = new Map(toCompile.map((n) => [n.key, n]));
  const promises = new Map<string, Promise<ApplySpecPackage>>();
  let failed = false;
  const result = (key: string): Promise<ApplySpecPackage> => {
    const ready = compiled.get(key);
    if (ready) return Promise.resolve(ready);
    let promise = promises.get(key);
    if (!promise) {
      const node = byKey.get(key)!;
      promise = (async () => {
        const deps = await Promise.all(node.dependencyKeys.map(result));
        await slots.acquire();
        try {
          if (failed) throw new Error('compilation aborted');
          await task.checkpoint();
          return await stage.track(`${node.pkg.name}/${node.pkg.version}`, () => compileOne(director, task, node, deps, options));
        } catch (err) {
          failed = true;
          throw err;
        } finally {
          slots.release();
        }
      })();
      promises.set(key, promise);
    }
    return promise;
  };
  const settled = await Promise.allSettled(toCompile.map((n) => result(n.key).then((p) => compiled.set(n.key, p))));
  const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
  const real = errors.find((e) => e.message !== 'compilation aborted') ?? errors[0];
  if (real) throw real;
  return compiled;
}

async function findCompiled(director: Director, node: CompileNode): Promise<ApplySpecPackage | null> {
  const row = await director.db
    .selectFrom('compiled_packages')
    .selectAll()
    .where('package_id', '=', node.pkg.id)
    .where('stemcell_os', '=', node.stemcell.operatingSystem)
    .where('stemcell_version', '=', node.stemcell.version)
    .where('dependency_key_sha1', '=', sha1(node.dependencyKey))
    .orderBy('build', 'desc')
    .executeTakeFirst();
  if (!row) return null;
  return { name: node.pkg.name, version: `${node.pkg.version}.${row.build}`, sha1: row.sha1, blobstore_id: row.blobstore_id };
}

async function compileOne(
  director: Director,
  task: TaskContext,
  node: CompileNode,
  deps: ApplySpecPackage[],
  options: CompileOptions,
): Promise<ApplySpecPackage> {
  const { pkg, stemcell } = node;
  const last = await director.db
    .selectFrom('compiled_packages')
    .select((eb) => eb.fn.max('build').as('build'))
    .where('package_id', '=', pkg.id)
    .where('stemcell_os', '=', stemcell.operatingSystem)
    .where('stemcell_version', '=', stemcell.version)
    .executeTakeFirst();
  const build = Number(last?.build ?? 0) + 1;
  const version = `${pkg.version}.${build}`;
  const dependencies: Record<string, CompileDependency> = Object.fromEntries(
    deps.map((d) => [d.name, { name: d.name, version: d.version, sha1: d.sha1, blobstore_id: d.blobstore_id }]),
  );
  const value = await withCompilationVm(director, task, stemcell, options, (agentId) =>
    director.agents.forAgent(agentId).call<CompileResult>('compile_package', [pkg.blobstoreId, pkg.sha1, pkg.name, version, dependencies]),
  );
  const { blobstore_id, sha1: digest } = value.result;
  await director.db
    .insertInto('compiled_packages')
    .values({
      package_id: pkg.id, stemcell_os: stemcell.operatingSystem, stemcell_version: stemcell.version, build,
      blobstore_id, sha1: digest, dependency_key: node.dependencyKey, dependency_key_sha1: sha1(node.dependencyKey),
    })
    .execute();
  return { name: pkg.name, version, sha1: digest, blobstore_id };
}

/** A throwaway compilation instance + VM, deleted (with its IP) whatever happens. */
async function withCompilationVm<T>(
  director: Director,
  task: TaskContext,
  stemcell: ResolvedStemcell,
  options: CompileOptions,
  fn: (agentId: string) => Promise<T>,
): Promise<T> {
  const { compilation } = options.cloudConfig;
  const group = `compilation-${randomUUID()}`;
  const uuid = randomUUID();
  const instance = await director.db
    .insertInto('instances')
    .values({
      deployment_id: options.deploymentId, job: group, index: 0, uuid, state: 'started', availability_zone: compilation.az ?? null,
      compilation: 1, bootstrap: 0, spec_json: null, update_completed: 0, ignore: 0,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  try {
    const networks = await reserveNetworks(director.db, instance.id, `${group}/${uuid} (0)`, [{ name: compilation.network }], 0, compilation.az ?? null, options.cloudConfig, task.taskId);
    const vm = await createVm(director, {
      deployment: options.deployment, instanceId: instance.id, instanceGroup: group, instanceUuid: uuid, index: 0, stemcell,
      cloudProperties: compilationCloudProperties(options.cloudConfig), networks, env: compilation.env ?? {}, job: null,
      cpi: azCpiName(options.cloudConfig, compilation.az),
    });
    try {
      return await fn(vm.agentId);
    } finally {
      await deleteVm(director, vm).catch((err) => task.debug.warn({ err, cid: vm.cid }, 'could not delete compilation VM'));
    }
  } finally {
    await releaseInstanceIps(director.db, instance.id);
    await director.db.deleteFrom('instances').where('id', '=', instance.id).execute();
  }
}

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

class Semaphore {
  private waiters: Array<() => void> = [];
  constructor(private free: number) {}
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}
