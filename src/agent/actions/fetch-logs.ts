import { rm, readFile, chown } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AgentServices } from '../services.js';
import { buildLogsTarball } from '../logs.js';
import { fileDigest } from '../../common/digest.js';
import { signedPut } from '../signed-url.js';
import { objectArg, stringArg, type Action } from './action.js';

const execFileP = promisify(execFile);

function filtersArg(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new Error('Unmarshalling action argument: json: cannot unmarshal into Go value of type []string');
  }
  return value as string[];
}

/** Builds the logs tarball, hands it to `upload`, and removes it whatever happens. */
async function uploadLogs<T>(services: AgentServices, logType: string, filters: unknown, upload: (tarball: string) => Promise<T>): Promise<T> {
  const tarball = await buildLogsTarball(services.paths, logType, filtersArg(filters));
  try {
    return await upload(tarball);
  } finally {
    await rm(tarball, { force: true });
  }
}

/** Tars the requested logs (doublestar filters) and uploads the tarball (§2.11). */
export class FetchLogsAction implements Action {
  readonly name = 'fetch_logs';
  readonly isAsynchronous = true;
  readonly requiredArgs = 2;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<{ blobstore_id: string; sha1: string }> {
    return uploadLogs(this.services, stringArg(args, 0), args[1], (tarball) => this.services.blobs.upload(tarball));
  }
}

interface SignedLogsRequest {
  signed_url?: string;
  log_type?: string;
  filters?: string[] | null;
  blobstore_headers?: Record<string, string>;
}

export class FetchLogsWithSignedUrlAction implements Action {
  readonly name = 'fetch_logs_with_signed_url';
  readonly isAsynchronous = true;
  readonly requiredArgs = 1;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<{ sha1: string }> {
    const req = objectArg<SignedLogsRequest>(args, 0, 'action.FetchLogsWithSignedURLRequest');
    const put = async (tarball: string) => ({ sha1: await signedPut(req.signed_url ?? '', req.blobstore_headers ?? {}, tarball, { ca: this.services.blobstoreCa() }) });
    return uploadLogs(this.services, req.log_type ?? '', req.filters, put);
  }
}

interface BundleLogsRequest {
  owning_user?: string;
  log_type?: string;
  filters?: string[] | null;
}

/** Sync, for the CLI over the HTTPS mbus: the tarball stays on disk, owned by owning_user. */
export class BundleLogsAction implements Action {
  readonly name = 'bundle_logs';
  readonly isAsynchronous = false;
  readonly requiredArgs = 1;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<{ logs_tar_path: string; sha512: string }> {
    const req = objectArg<BundleLogsRequest>(args, 0, 'action.BundleLogsRequest');
    const { paths } = this.services;
    const tarball = await buildLogsTarball(paths, req.log_type ?? '', filtersArg(req.filters), paths.bundledLogs);
    if (req.owning_user) await chownToUser(tarball, req.owning_user);
    return { logs_tar_path: tarball, sha512: `sha512:${await fileDigest(tarball, 'sha512')}` };
  }
}

async function chownToUser(path: string, user: string): Promise<void> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const entry = passwd.split('\n').find((l) => l.split(':')[0] === user);
  if (!entry) {
    await execFileP('chown', [user, path]); // lets chown report the unknown user
    return;
  }
  const [, , uid, gid] = entry.split(':');
  await chown(path, Number(uid), Number(gid));
}
