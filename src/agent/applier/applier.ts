// prepare and apply (§5.2, §5.3): install packages and jobs, enable them with symlinks, remove what
// the spec no longer names, reload monit, persist the spec and the instance files.
import { mkdir, readdir, rm, writeFile, chmod, readlink, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ApplySpec, ApplySpecPackage, NetworkSettings } from '../../common/protocol.js';
import type { Logger } from '../../common/logging.js';
import type { BlobManager } from '../blobs.js';
import type { VcapPaths } from '../platform/paths.js';
import { ensureSymlink, chownVcap } from '../platform/layout.js';
import { resolveSpecNetworks } from '../platform/network.js';
import type { JobSupervisor } from '../supervisor/job-supervisor.js';
import { JobInstaller, PackageInstaller, exists, jobInstallDir } from './installer.js';
import { specJobs, toPersistedSpec, type SpecStore, type SpecJob } from './spec.js';

const execFileP = promisify(execFile);

export interface ApplierOptions {
  /** Where to write the `vcap` logrotate config (§5.3 step 2.7); undefined skips it (dummy platform). */
  logrotateDir?: string;
  parallel?: number;
}

/** Runs fn over items with at most `limit` in flight. */
async function inPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const workers = Array.from({ length: Math.max(1, Math.min(limit, queue.length)) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  });
  await Promise.all(workers);
}

export class Applier {
  private readonly packages: PackageInstaller;
  private readonly jobs: JobInstaller;

  constructor(
    private readonly paths: VcapPaths,
    private readonly blobs: BlobManager,
    private readonly supervisor: JobSupervisor,
    private readonly specStore: SpecStore,
    private readonly settingsNetworks: () => Record<string, NetworkSettings>,
    private readonly logger: Logger,
    private readonly options: ApplierOptions = {},
  ) {
    this.packages = new PackageInstaller(paths, blobs);
    this.jobs = new JobInstaller(paths);
  }

  /** Downloads and installs everything the spec names, enabling nothing (§5.2). */
  async prepare(spec: ApplySpec): Promise<void> {
    const parallel = this.options.parallel ?? 5;
    await inPool(Object.values(spec.packages ?? {}), parallel, async (pkg) => void (await this.packages.install(pkg)));
    if (spec.rendered_templates_archive) await this.installJobs(spec);
  }

  async apply(spec: ApplySpec): Promise<void> {
    const resolved: ApplySpec = { ...spec, networks: resolveSpecNetworks(spec.networks ?? {}, this.settingsNetworks()) };
    if (resolved.configuration_hash) await this.applyJobsAndPackages(resolved);
    await this.specStore.write(toPersistedSpec(resolved));
    await this.writeInstanceFiles(resolved);
  }

  private async applyJobsAndPackages(spec: ApplySpec): Promise<void> {
    await this.supervisor.removeAllJobs();
    const jobDirs = await this.installJobs(spec);
    const packages = Object.values(spec.packages ?? {});
    for (const job of specJobs(spec)) {
      await this.makeJobDirs(job.name);
      await ensureSymlink(jobDirs.get(job.name)!, join(this.paths.jobs, job.name));
      await this.enableJobPackages(join(this.paths.jobs, job.name, 'packages'), packages);
    }
    if (spec.rendered_templates_archive) await this.blobs.deleteLocalCopies(spec.rendered_templates_archive.blobstore_id);
    await this.removeUnusedJobs(jobDirs);
    await this.enablePackages(packages);
    await this.supervisor.reload();
    await this.writeLogrotate(spec);
  }

  /** Installs every job of the spec from the rendered templates archive; returns job -> install dir. */
  private async installJobs(spec: ApplySpec): Promise<Map<string, string>> {
    const dirs = new Map<string, string>();
    const jobs = specJobs(spec);
    const archiveRef = spec.rendered_templates_archive;
    if (jobs.length === 0) return dirs;
    if (!archiveRef) throw new Error('Apply spec has jobs but no rendered_templates_archive');
    let archive: string | undefined;
    try {
      for (const job of jobs) {
        const dir = jobInstallDir(this.paths, job.name, job.version, archiveRef.sha1);
        if (!(await exists(dir))) {
          archive ??= await this.blobs.fetch(archiveRef.blobstore_id, archiveRef.sha1);
          await this.jobs.install(job.name, job.version, archiveRef.sha1, archive);
        }
        dirs.set(job.name, dir);
      }
    } finally {
      if (archive) await rm(archive, { force: true });
    }
    return dirs;
  }

  private async makeJobDirs(job: string): Promise<void> {
    for (const dir of [join(this.paths.sysLog, job), join(this.paths.sysRun, job), join(this.paths.data, job)]) {
      if (await exists(dir)) continue;
      await mkdir(dir, { recursive: true, mode: 0o770 });
      await chmod(dir, 0o770);
      await chownVcap(dir);
    }
  }

  private async enableJobPackages(linkDir: string, packages: ApplySpecPackage[]): Promise<void> {
    await mkdir(linkDir, { recursive: true });
    const wanted = new Set(packages.map((p) => p.name));
    for (const pkg of packages) await ensureSymlink(await this.packages.install(pkg), join(linkDir, pkg.name));
    for (const name of await readdir(linkDir)) if (!wanted.has(name)) await rm(join(linkDir, name), { force: true });
  }

  /** Unlinks jobs not in the spec and deletes installed job versions the spec does not use. */
  private async removeUnusedJobs(keep: Map<string, string>): Promise<void> {
    for (const name of await readdir(this.paths.jobs).catch(() => [] as string[])) {
      if (!keep.has(name)) await rm(join(this.paths.jobs, name), { force: true });
    }
    for (const name of await readdir(this.paths.dataJobs).catch(() => [] as string[])) {
      for (const version of await readdir(join(this.paths.dataJobs, name)).catch(() => [] as string[])) {
        const dir = join(this.paths.dataJobs, name, version);
        if (keep.get(name) !== dir) await rm(dir, { recursive: true, force: true });
      }
    }
  }

  private async enablePackages(packages: ApplySpecPackage[]): Promise<void> {
    const keepDirs = new Set<string>();
    for (const pkg of packages) {
      const dir = await this.packages.install(pkg);
      keepDirs.add(dir);
      await ensureSymlink(dir, join(this.paths.packages, pkg.name));
    }
    const wanted = new Set(packages.map((p) => p.name));
    for (const name of await readdir(this.paths.packages).catch(() => [] as string[])) {
      if (!wanted.has(name)) await rm(join(this.paths.packages, name), { recursive: true, force: true });
    }
    for (const name of await readdir(this.paths.dataPackages).catch(() => [] as string[])) {
      for (const version of await readdir(join(this.paths.dataPackages, name)).catch(() => [] as string[])) {
        const dir = join(this.paths.dataPackages, name, version);
        if (!keepDirs.has(dir)) await rm(dir, { recursive: true, force: true });
      }
    }
  }

  private async writeLogrotate(spec: ApplySpec): Promise<void> {
    if (!this.options.logrotateDir) return;
    const size = spec.properties?.logging?.max_log_file_size ?? '50M';
    const log = this.paths.sysLog;
    const patterns = [`${log}/*.log`, `${log}/.*.log`, `${log}/*/*.log`, `${log}/*/.*.log`, `${log}/*/*/*.log`, `${log}/*/*/.*.log`];
    const body = `${patterns.join(' ')} {\n  missingok\n  rotate 7\n  compress\n  copytruncate\n  size=${size}\n}\n`;
    await mkdir(this.options.logrotateDir, { recursive: true });
    await writeFile(join(this.options.logrotateDir, 'vcap'), body);
    await execFileP(join(this.paths.boshBin, 'setup-logrotate.sh')).catch((err) => this.logger.debug({ err }, 'setup-logrotate.sh failed'));
  }

  private async writeInstanceFiles(spec: ApplySpec): Promise<void> {
    await mkdir(this.paths.instance, { recursive: true });
    const files: Record<string, string> = { id: spec.id ?? '', az: spec.az ?? '', name: spec.name ?? '', deployment: spec.deployment ?? '' };
    for (const [name, value] of Object.entries(files)) await writeFile(join(this.paths.instance, name), value, { mode: 0o644 });
    await chmod(this.paths.instance, 0o755);
  }
}

/** Installed job dirs of the current spec (for start's monit files and scripts). */
export async function installedJobs(paths: VcapPaths, jobs: SpecJob[]): Promise<Array<{ name: string; dir: string }>> {
  const out: Array<{ name: string; dir: string }> = [];
  for (const job of jobs) {
    const link = join(paths.jobs, job.name);
    const isLink = await lstat(link).then((s) => s.isSymbolicLink(), () => false);
    out.push({ name: job.name, dir: isLink ? await readlink(link) : link });
  }
  return out;
}
