// compile_package (§2.9): install dependencies, unpack the source, run `bash -x packaging`, tar up
// the install dir, upload it, clean everything again.
import { spawn } from 'node:child_process';
import { mkdir, rm, rename, readdir, open, chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CompileDependency, CompileResult } from '../common/protocol.js';
import type { Logger } from '../common/logging.js';
import type { BlobManager } from './blobs.js';
import type { VcapPaths } from './platform/paths.js';
import { chownVcap, ensureSymlink } from './platform/layout.js';
import { signedPut } from './signed-url.js';
import { safeExtract } from '../common/tar.js';
import { PackageInstaller, exists, runTar, sha1Hex } from './applier/installer.js';

const OUTPUT_TAIL = 10 * 1024;

export interface CompileRequest {
  blobstoreId: string;
  digest: string;
  name: string;
  version: string;
  deps: Record<string, CompileDependency & { signed_url?: string; blobstore_headers?: Record<string, string> }>;
  /** Signed-URL variant: where the source comes from and where the result goes (§2.9). */
  sourceSignedUrl?: { url: string; headers: Record<string, string> };
  uploadSignedUrl?: { url: string; headers: Record<string, string> };
}

export class Compiler {
  private readonly packages: PackageInstaller;

  constructor(
    private readonly paths: VcapPaths,
    private readonly blobs: BlobManager,
    private readonly logger: Logger,
  ) {
    this.packages = new PackageInstaller(paths, blobs);
  }

  async compile(req: CompileRequest): Promise<CompileResult> {
    const compileDir = join(this.paths.dataCompile, req.name);
    const installDir = join(this.paths.dataPackages, req.name, sha1Hex(req.version));
    const installLink = join(this.paths.packages, req.name);
    const tarball = join(this.paths.tmp, `compiled-${req.name}-${Date.now()}.tgz`);
    await this.removeAllPackages();
    try {
      for (const dep of Object.values(req.deps ?? {})) {
        await ensureSymlink(await this.packages.install(dep), join(this.paths.packages, dep.name));
      }
      await this.unpackSource(req, compileDir);
      await rm(installDir, { recursive: true, force: true });
      await mkdir(installDir, { recursive: true, mode: 0o755 });
      await chownVcap(installDir);
      await ensureSymlink(installDir, installLink);
      if (await exists(join(compileDir, 'packaging'))) await this.runPackaging(req, compileDir, installLink);
      await runTar(['-czf', tarball, '-C', installDir, '.']);
      this.logger.info({ package: req.name, bytes: (await stat(tarball)).size }, 'Compiled package');
      if (req.uploadSignedUrl) {
        const { url, headers } = req.uploadSignedUrl;
        return { result: { sha1: await signedPut(url, headers, tarball, { ca: this.blobs.ca }) } } as unknown as CompileResult;
      }
      return { result: await this.blobs.upload(tarball) };
    } finally {
      await rm(tarball, { force: true });
      await this.removeAllPackages();
      await rm(compileDir, { recursive: true, force: true });
    }
  }

  private async unpackSource(req: CompileRequest, compileDir: string): Promise<void> {
    const signed = req.sourceSignedUrl;
    const source = await this.blobs.fetchRef({ blobstore_id: req.blobstoreId, sha1: req.digest, signed_url: signed?.url, blobstore_headers: signed?.headers });
    const unpack = `${compileDir}-bosh-agent-unpack`;
    try {
      await rm(unpack, { recursive: true, force: true });
      await mkdir(unpack, { recursive: true });
      await safeExtract(source, unpack, { externalSymlinks: true });
      await rm(compileDir, { recursive: true, force: true });
      await rename(unpack, compileDir);
    } finally {
      await rm(source, { force: true });
      await rm(unpack, { recursive: true, force: true });
    }
  }

  private async runPackaging(req: CompileRequest, compileDir: string, installTarget: string): Promise<void> {
    const logDir = join(this.paths.sysLog, 'compilation');
    await rm(logDir, { recursive: true, force: true });
    await mkdir(logDir, { recursive: true, mode: 0o750 });
    const stdoutLog = await open(join(logDir, 'packaging.stdout.log'), 'w', 0o640);
    const stderrLog = await open(join(logDir, 'packaging.stderr.log'), 'w', 0o640);
    const tails = { stdout: new Tail(), stderr: new Tail() };
    const env = {
      ...process.env,
      BOSH_COMPILE_TARGET: compileDir,
      BOSH_INSTALL_TARGET: installTarget,
      BOSH_PACKAGE_NAME: req.name,
      BOSH_PACKAGE_VERSION: req.version,
    };
    try {
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn('bash', ['-x', 'packaging'], { cwd: compileDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout.on('data', (c: Buffer) => {
          tails.stdout.push(c);
          void stdoutLog.write(c);
        });
        child.stderr.on('data', (c: Buffer) => {
          tails.stderr.push(c);
          void stderrLog.write(c);
        });
        child.on('error', reject);
        child.on('close', (status, signal) => resolve(status ?? (signal ? 128 : 1)));
      });
      if (code !== 0) {
        throw new Error(`Running packaging script: Command exited with ${code}; ${tails.stdout.describe('stdout')}, ${tails.stderr.describe('stderr')}`);
      }
    } finally {
      await stdoutLog.close();
      await stderrLog.close();
    }
  }

  /** Compilation VMs start clean for every package: no other package may leak into the build. */
  private async removeAllPackages(): Promise<void> {
    for (const name of await readdir(this.paths.packages).catch(() => [] as string[])) {
      await rm(join(this.paths.packages, name), { recursive: true, force: true });
    }
    await rm(this.paths.dataPackages, { recursive: true, force: true });
    await mkdir(this.paths.dataPackages, { recursive: true, mode: 0o755 });
    await chmod(this.paths.dataPackages, 0o755);
  }
}

/** Keeps the last 10 KiB of a stream for error messages. */
class Tail {
  private data = Buffer.alloc(0);
  private truncated = false;

  push(chunk: Buffer): void {
    this.data = Buffer.concat([this.data, chunk]);
    if (this.data.length > OUTPUT_TAIL) {
      this.data = this.data.subarray(this.data.length - OUTPUT_TAIL);
      this.truncated = true;
    }
  }

  describe(label: string): string {
    return `${this.truncated ? 'Truncated ' : ''}${label}: ${this.data.toString('utf8')}`;
  }
}
