// Adapter for any BOSH CPI executable (director-api.md §10): one process per call, one JSON request
// line on stdin, one JSON response on stdout, stderr kept for the log.
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import type { NetworkSettings } from '../common/protocol.js';
import { createLogger, type Logger } from '../common/logging.js';
import type { CloudProperties, Cpi, VmEnv } from './cpi.js';

/** The highest CPI API version this director speaks (v2: create_vm returns [vm_cid, networks]). */
const PREFERRED_API_VERSION = 2;

export class CpiError extends Error {
  constructor(
    public readonly type: string,
    message: string,
    public readonly okToRetry = false,
  ) {
    super(message);
    this.name = 'CpiError';
  }
}

export interface ExternalCpiOptions {
  executable: string;
  directorUuid: string;
  /** cpi-config properties, passed in every request's context. */
  properties?: Record<string, unknown>;
  logger?: Logger;
}

interface CpiResponse {
  result: unknown;
  error: { type: string; message: string; ok_to_retry?: boolean } | null;
  log: string;
}

export class ExternalCpi implements Cpi {
  private apiVersion?: number;
  private readonly log: Logger;

  constructor(private readonly options: ExternalCpiOptions) {
    this.log = options.logger ?? createLogger('external-cpi');
  }

  async info(): Promise<{ stemcell_formats: string[]; api_version: number }> {
    const info = (await this.call('info', [], 1)) as { api_version?: number; stemcell_formats?: string[] } | null;
    const version = Math.min(info?.api_version ?? 1, PREFERRED_API_VERSION);
    if (version < 2) throw new CpiError('Bosh::Clouds::CpiError', `CPI API version ${info?.api_version ?? 1} is not supported (needs 2 or later)`);
    this.apiVersion = version;
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
    const result = await this.call('create_vm', [agentId, stemcellCid, cloudProperties, networks, diskCids, env]);
    // v2 answers [vm_cid, networks]; v1 just the cid
    return String(Array.isArray(result) ? result[0] : result);
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

  private async call(method: string, args: unknown[], apiVersion?: number): Promise<unknown> {
    const version = apiVersion ?? this.apiVersion ?? (await this.info()).api_version;
    const requestId = `cpi-${String(randomInt(1_000_000)).padStart(6, '0')}`;
    const request = {
      method,
      arguments: args,
      context: { director_uuid: this.options.directorUuid, request_id: requestId, ...this.options.properties },
      api_version: version,
    };
    const { stdout, stderr, code } = await runCpi(this.options.executable, `${JSON.stringify(request)}\n`);
    if (stderr) this.log.debug({ request_id: requestId, method, stderr }, 'cpi stderr');
    const response = parseResponse(stdout, method, code);
    if (response.log) this.log.debug({ request_id: requestId, method, log: response.log }, 'cpi log');
    if (response.error) {
      throw new CpiError(response.error.type, `CPI error '${response.error.type}' with message '${response.error.message}' in '${method}' CPI method (CPI request ID: '${requestId}')`, response.error.ok_to_retry ?? false);
    }
    return response.result;
  }
}

function parseResponse(stdout: string, method: string, code: number | null): CpiResponse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new CpiError('Bosh::Clouds::CpiError', `Invalid CPI response - ${method} exited with ${code}: '${stdout.trim().slice(0, 500)}'`);
  }
  const r = parsed as Partial<CpiResponse> | null;
  if (!r || typeof r !== 'object' || !('result' in r) || !('error' in r) || typeof r.log !== 'string') {
    throw new CpiError('Bosh::Clouds::CpiError', `Invalid CPI response - ${method}: needs 'result', 'error' and a string 'log'`);
  }
  return r as CpiResponse;
}

/** The executable gets an empty environment but PATH, TMPDIR and HOME, as BOSH runs CPIs. */
function runCpi(executable: string, input: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, [], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TMPDIR: process.env.TMPDIR ?? tmpdir(), HOME: process.env.HOME ?? '/' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new CpiError('Bosh::Clouds::CpiError', `Cannot run CPI '${executable}': ${err.message}`)));
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(input);
  });
}
