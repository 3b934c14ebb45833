// The CPI protocol's other side (director-api.md §10): answers one JSON request line with a Capstan
// CPI, so the docker or dummy CPI can run as an external CPI executable (any BOSH director can use it;
// the CPI conformance suite drives ExternalCpi through it).
import type { Logger } from '../common/logging.js';
import { createLogger } from '../common/logging.js';
import { CpiError, CpiErrorType, type DiskCpi } from './cpi.js';

export interface CpiRequest {
  method: string;
  arguments?: unknown[];
  context?: Record<string, unknown>;
  api_version?: number;
}

export interface CpiResponse {
  result: unknown;
  error: { type: string; message: string; ok_to_retry: boolean } | null;
  log: string;
}

type Handler = (cpi: DiskCpi, args: any[], apiVersion: number) => Promise<unknown>;

const HANDLERS: Record<string, Handler> = {
  info: (cpi) => cpi.info(),
  create_stemcell: (cpi, [image, props]) => cpi.createStemcell(image, props ?? {}),
  delete_stemcell: (cpi, [cid]) => cpi.deleteStemcell(cid),
  create_vm: async (cpi, [agentId, stemcell, props, networks, disks, env], apiVersion) => {
    const cid = await cpi.createVm(agentId, stemcell, props ?? {}, networks ?? {}, disks ?? [], env ?? {});
    return apiVersion >= 2 ? [cid, networks ?? {}] : cid;
  },
  delete_vm: (cpi, [cid]) => cpi.deleteVm(cid),
  has_vm: (cpi, [cid]) => cpi.hasVm(cid),
  reboot_vm: (cpi, [cid]) => cpi.rebootVm(cid),
  set_vm_metadata: (cpi, [cid, metadata]) => cpi.setVmMetadata(cid, metadata ?? {}),
  create_disk: (cpi, [size, props, vm]) => cpi.createDisk(size, props ?? {}, vm ?? null),
  delete_disk: (cpi, [cid]) => cpi.deleteDisk(cid),
  attach_disk: (cpi, [vm, disk]) => cpi.attachDisk(vm, disk),
  detach_disk: (cpi, [vm, disk]) => cpi.detachDisk(vm, disk),
  has_disk: (cpi, [cid]) => cpi.hasDisk(cid),
  get_disks: (cpi, [vm]) => cpi.getDisks(vm),
  resize_disk: (cpi, [cid, size]) => cpi.resizeDisk(cid, size),
  set_disk_metadata: (cpi, [cid, metadata]) => cpi.setDiskMetadata(cid, metadata ?? {}),
};

/** Answers one request; never throws (errors become the response's `error`). */
export async function handleCpiRequest(cpi: DiskCpi, input: string): Promise<Omit<CpiResponse, 'log'>> {
  let request: CpiRequest;
  try {
    request = JSON.parse(input) as CpiRequest;
  } catch {
    return { result: null, error: { type: 'InvalidCall', message: 'Request is not valid JSON', ok_to_retry: false } };
  }
  const handler = HANDLERS[request.method];
  if (!handler) {
    return { result: null, error: { type: 'InvalidCall', message: `Method is not known, got '${request.method}'`, ok_to_retry: false } };
  }
  try {
    const result = await handler(cpi, request.arguments ?? [], request.api_version ?? 1);
    return { result: result ?? null, error: null };
  } catch (err) {
    const e = err instanceof CpiError ? err : new CpiError(CpiErrorType.CloudError, (err as Error).message);
    return { result: null, error: { type: e.type, message: e.message, ok_to_retry: e.okToRetry } };
  }
}

/**
 * An executable's main: reads the request from stdin, answers on stdout with everything the CPI
 * logged in `log`. makeCpi gets the logger to give the CPI.
 */
export async function serveCpiRequest(makeCpi: (logger: Logger) => DiskCpi): Promise<void> {
  let log = '';
  const logger = createLogger('cpi', { write: (line: string) => void (log += line) }, 'debug');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const response = await handleCpiRequest(makeCpi(logger), Buffer.concat(chunks).toString('utf8'));
  process.stdout.write(JSON.stringify({ ...response, log } satisfies CpiResponse));
}
