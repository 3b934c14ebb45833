// Adapter for any BOSH CPI executable (director-api.md §10): one process per call, one JSON request
// line on stdin, one JSON response on stdout, stderr and the response's `log` kept for the task's
// `cpi` output. Speaks CPI API version 1 and 2 (v2: create_vm answers [vm_cid, networks] and
// attach_disk answers a disk hint).
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import type { NetworkSettings } from '../common/protocol.js';
import { createLogger, type Logger } from '../common/logging.js';
import { redactText, redactValue } from '../common/redact.js';
import { CpiError, CpiErrorType, type CloudProperties, type CpiLogSink, type DiskCpi, type DiskHint, type VmEnv } from './cpi.js';

export { CpiError };

/** The highest CPI API version this director speaks. */
export const PREFERRED_API_VERSION = 2;
/** A CPI call that has not answered after this long is killed (BOSH has no limit; a hung CPI would hang the task). */
export const DEFAULT_CALL_TIMEOUT_MS = 20 * 60_000;

export interface ExternalCpiOptions {
  executable: string;
  directorUuid: string;
  /** cpi-config properties, passed in every request's context. */
  properties?: Record<string, unknown>;
  logger?: Logger;
  /** Per call; the CPI process is killed when it runs longer. */
  timeoutMs?: number;
  /** The highest API version to use (default 2); the CPI's own `info.api_version` may lower it. */
  preferredApiVersion?: number;
  /** Receives each call's log: request (secrets redacted), response, the CPI's stderr and `log`. */
  cpiLog?: CpiLogSink;
}

interface CpiResponse {
  result: unknown;
  error: { type: string; message: string; ok_to_retry?: boolean } | null;
  log: string;
}

/** The API version, negotiated once per executable and shared with withCpiLog() views. */
interface Negotiation {
  apiVersion?: number;
}

export class ExternalCpi implements DiskCpi {
  private readonly log: Logger;

  constructor(
    private readonly options: ExternalCpiOptions,
    private readonly negotiation: Negotiation = {},
  ) {
    this.log = options.logger ?? createLogger('external-cpi');
  }

  /** The same CPI writing its call logs to sink, e.g. a task's `cpi` output file. */
  withCpiLog(sink: CpiLogSink): ExternalCpi {
    return new ExternalCpi({ ...this.options, logger: this.log, cpiLog: sink }, this.negotiation);
  }

  async info(): Promise<{ stemcell_formats: string[]; api_version: number }> {
    const info = (await this.call('info', [], 1)) as { api_version?: number; stemcell_formats?: string[] } | null;
    const cpiVersion = info?.api_version ?? 1;
    const version = Math.min(cpiVersion, this.options.preferredApiVersion ?? PREFERRED_API_VERSION);
    if (version < 1) throw new CpiError(CpiErrorType.CpiError, `CPI API version ${cpiVersion} is not supported`);
    this.negotiation.apiVersion = version;
    return { stemcell_formats: info?.stemcell_formats ?? [], api_version: version };
  }

  async createStemcell(imagePath: string, cloudProperties: CloudProperties): Promise<string> {
    return String(await this.call('create_stemcell', [imagePath, cloudProperties]));
  }

  async deleteStemcell(stemcellCid: string): Promise<void> {
    await this.call('delete_stemcell', [stemcellCid]);
  }

  async createVm(
    agentId: string,
    stemcellCid: string,
    cloudProperties: CloudProperties,
    networks: Record<string, NetworkSettings>,
    diskCids: string[],
    env: VmEnv,
  ): Promise<string> {
    return (await this.createVmWithNetworks(agentId, stemcellCid, cloudProperties, networks, diskCids, env)).vmCid;
  }

  /** create_vm with the networks a v2 CPI answers (it may have filled in dynamic IPs); v1: the networks sent. */
  async createVmWithNetworks(
    agentId: string,
    stemcellCid: string,
    cloudProperties: CloudProperties,
    networks: Record<string, NetworkSettings>,
    diskCids: string[],
    env: VmEnv,
  ): Promise<{ vmCid: string; networks: Record<string, NetworkSettings> }> {
    const version = await this.apiVersion();
    const result = await this.call('create_vm', [agentId, stemcellCid, cloudProperties, networks, diskCids, env], version);
    if (version < 2) return { vmCid: String(result), networks };
    if (!Array.isArray(result) || typeof result[0] !== 'string') {
      throw new CpiError(CpiErrorType.CpiError, `Invalid CPI response - create_vm: API version 2 needs [vm_cid, networks], got ${JSON.stringify(result)}`);
    }
    return { vmCid: result[0], networks: (result[1] as Record<string, NetworkSettings> | undefined) ?? networks };
  }

  async deleteVm(vmCid: string): Promise<void> {
    await this.call('delete_vm', [vmCid]);
  }

  async hasVm(vmCid: string): Promise<boolean> {
    return (await this.call('has_vm', [vmCid])) === true;
  }

  async rebootVm(vmCid: string): Promise<void> {
    await this.call('reboot_vm', [vmCid]);
  }

  async setVmMetadata(vmCid: string, metadata: Record<string, string>): Promise<void> {
    await this.call('set_vm_metadata', [vmCid, metadata]);
  }

  async createDisk(sizeMb: number, cloudProperties: CloudProperties, vmLocality: string | null): Promise<string> {
    return String(await this.call('create_disk', [sizeMb, cloudProperties, vmLocality]));
  }

  async deleteDisk(diskCid: string): Promise<void> {
    await this.call('delete_disk', [diskCid]);
  }

  /** v2: the CPI's disk hint (required). v1 CPIs answer nothing useful: null (the agent reads its settings). */
  async attachDisk(vmCid: string, diskCid: string): Promise<DiskHint> {
    const version = await this.apiVersion();
    const hint = await this.call('attach_disk', [vmCid, diskCid], version);
    if (version < 2) return typeof hint === 'string' || (hint && typeof hint === 'object') ? (hint as DiskHint) : null;
    if (hint === null || hint === undefined || hint === '' || (typeof hint === 'object' && Object.keys(hint).length === 0)) {
      throw new CpiError(CpiErrorType.CpiError, `Invalid CPI response - attach_disk: API version 2 needs a disk hint`);
    }
    return hint as DiskHint;
  }

  async detachDisk(vmCid: string, diskCid: string): Promise<void> {
    await this.call('detach_disk', [vmCid, diskCid]);
  }

  async hasDisk(diskCid: string): Promise<boolean> {
    return (await this.call('has_disk', [diskCid])) === true;
  }

  async getDisks(vmCid: string): Promise<string[]> {
    const result = await this.call('get_disks', [vmCid]);
    return Array.isArray(result) ? result.map(String) : [];
  }

  async resizeDisk(diskCid: string, newSizeMb: number): Promise<void> {
    await this.call('resize_disk', [diskCid, newSizeMb]);
  }

  async setDiskMetadata(diskCid: string, metadata: Record<string, string>): Promise<void> {
    await this.call('set_disk_metadata', [diskCid, metadata]);
  }

  private async apiVersion(): Promise<number> {
    return this.negotiation.apiVersion ?? (await this.info()).api_version;
  }

  private async call(method: string, args: unknown[], apiVersion?: number): Promise<unknown> {
    const version = apiVersion ?? (await this.apiVersion());
    const requestId = `cpi-${String(randomInt(1_000_000)).padStart(6, '0')}`;
    const context = { director_uuid: this.options.directorUuid, request_id: requestId };
    const request = { method, arguments: args, context: { ...context, ...this.options.properties }, api_version: version };
    // cpi-config properties hold IaaS credentials: the log shows only the director's own context keys
    this.cpiLog(requestId, `request: ${JSON.stringify(redactValue({ ...request, context }))} with command: ${this.options.executable}`);
    const started = Date.now();
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    const { stdout, stderr, code, timedOut } = await runCpi(this.options.executable, `${JSON.stringify(request)}\n`, timeoutMs);
    if (stderr) this.cpiLog(requestId, `stderr:\n${redactText(stderr)}`);
    if (timedOut) {
      this.cpiLog(requestId, `timed out after ${timeoutMs} ms, killed`);
      throw new CpiError(CpiErrorType.CpiError, `CPI '${method}' did not answer within ${timeoutMs / 1000} s (CPI request ID: '${requestId}')`);
    }
    const response = parseResponse(stdout, method, code);
    if (response.log) this.cpiLog(requestId, `log:\n${redactText(response.log)}`);
    this.cpiLog(requestId, `response: ${JSON.stringify(redactValue({ result: response.result, error: response.error }))}, elapsed: ${Date.now() - started} ms`);
    if (response.error) throw toCpiError(response.error, method, requestId);
    return response.result;
  }

  private cpiLog(requestId: string, text: string): void {
    this.log.debug({ request_id: requestId }, text);
    this.options.cpiLog?.(`[${new Date().toISOString()}] [external-cpi] [${requestId}] ${text}\n`);
  }
}

function toCpiError(error: NonNullable<CpiResponse['error']>, method: string, requestId: string): CpiError {
  // BOSH maps "unknown method" answers to NotImplemented, so callers can fall back
  const type =
    error.type === 'InvalidCall' && /Method is not known, got/.test(error.message) ? CpiErrorType.NotImplemented : error.type;
  return new CpiError(
    type,
    `CPI error '${error.type}' with message '${error.message}' in '${method}' CPI method (CPI request ID: '${requestId}')`,
    error.ok_to_retry ?? false,
  );
}

function parseResponse(stdout: string, method: string, code: number | null): CpiResponse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new CpiError(CpiErrorType.CpiError, `Invalid CPI response - ${method} exited with ${code}: '${stdout.trim().slice(0, 500)}'`);
  }
  const r = parsed as Partial<CpiResponse> | null;
  if (!r || typeof r !== 'object' || !('result' in r) || !('error' in r) || typeof r.log !== 'string') {
    throw new CpiError(CpiErrorType.CpiError, `Invalid CPI response - ${method}: needs 'result', 'error' and a string 'log'`);
  }
  return r as CpiResponse;
}

interface CpiRun {
  stdout: string;
  stderr: string;
  code: number | null;
  timedOut: boolean;
}

/** The executable gets an empty environment but PATH, TMPDIR and HOME, as BOSH runs CPIs. */
function runCpi(executable: string, input: string, timeoutMs: number): Promise<CpiRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, [], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TMPDIR: process.env.TMPDIR ?? tmpdir(), HOME: process.env.HOME ?? '/' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      // not waiting for 'close': a grandchild may still hold the pipes open
      resolve({ stdout, stderr, code: null, timedOut });
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CpiError(CpiErrorType.CpiError, `Cannot run CPI '${executable}': ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, timedOut });
    });
    child.stdin.on('error', () => {}); // a CPI that exits without reading its input
    child.stdin.end(input);
  });
}
