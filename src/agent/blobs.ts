// The agent's view of the blobstore (§7.1): provider selection, local blob caches, digest-verified
// downloads with retries, SHA-1 digests for uploads.
import { copyFile, mkdir, rm, access } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { BlobstoreSettings } from '../common/protocol.js';
import type { Blobstore } from '../blobstore/blobstore.js';
import { DavBlobstore, type DavOptions } from '../blobstore/dav-client.js';
import { fileDigest, verifyFileDigest } from '../common/digest.js';
import { LocalBlobstore } from './local-blobstore.js';
import { S3Blobstore, type S3Options } from './s3-blobstore.js';
import { signedGet } from './signed-url.js';
import type { VcapPaths } from './platform/paths.js';

const ATTEMPTS = 3;

/** create-env's local blobstore path; the agent serves PUT /blobs/<id> into data/blobs instead (§1.7). */
const MICRO_BOSH_CACHE = '/var/vcap/micro_bosh/data/cache';

export function createBlobstore(settings: BlobstoreSettings, blobsDir?: string): Blobstore {
  switch (settings.provider) {
    case 'local': {
      const path = String(settings.options.blobstore_path ?? '');
      return new LocalBlobstore(path === MICRO_BOSH_CACHE && blobsDir ? blobsDir : path);
    }
    case 'dav':
      return new DavBlobstore(settings.options as unknown as DavOptions);
    case 's3':
      return new S3Blobstore(settings.options as unknown as S3Options);
    default:
      throw new Error(`Blobstore provider '${settings.provider}' is not supported`);
  }
}

/** A blob as apply specs and compile deps name it; signed_url wins when present (§7.1). */
export interface BlobRef {
  blobstore_id: string;
  sha1: string;
  signed_url?: string;
  blobstore_headers?: Record<string, string>;
}

export class BlobManager {
  constructor(
    private store: Blobstore,
    private readonly paths: VcapPaths,
    /** CA for signed-URL transfers (blobstore options.tls.cert.ca). */
    public ca?: string,
  ) {}

  /** update_settings gave new blobstore settings (a new credential): later transfers use them. */
  useBlobstore(store: Blobstore, ca?: string): void {
    this.store = store;
    this.ca = ca;
  }

  async fetchRef(ref: BlobRef): Promise<string> {
    if (ref.signed_url) return signedGet(ref.signed_url, ref.blobstore_headers ?? {}, ref.sha1, this.paths.tmp, { ca: this.ca });
    return this.fetch(ref.blobstore_id, ref.sha1);
  }

  /** Downloads blob `id` into a new temp file, verified against `digest`; returns its path. */
  async fetch(id: string, digest: string): Promise<string> {
    await mkdir(this.paths.tmp, { recursive: true });
    const dest = join(this.paths.tmp, `blob-${randomUUID()}`);
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        await this.download(id, dest);
        await verifyFileDigest(dest, digest).catch((err: Error) => {
          throw new Error(`Checking downloaded blob '${id}': ${err.message}`);
        });
        return dest;
      } catch (err) {
        lastError = err as Error;
        await rm(dest, { force: true });
      }
    }
    throw new Error(`Getting blob '${id}' from blobstore: ${lastError?.message}`);
  }

  /** Uploads a file under a new UUID; the digest is SHA-1 hex (§7.3). */
  async upload(filePath: string): Promise<{ blobstore_id: string; sha1: string }> {
    const sha1 = await fileDigest(filePath, 'sha1');
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        return { blobstore_id: await this.store.put(filePath, randomUUID()), sha1 };
      } catch (err) {
        lastError = err as Error;
      }
    }
    throw new Error(`Uploading blob: ${lastError?.message}`);
  }

  /** "Deleting" a blob only removes local cached copies; remote blobs are never deleted (§5.3). */
  async deleteLocalCopies(id: string): Promise<void> {
    for (const dir of [this.paths.sensitiveBlobs, this.paths.blobs]) await rm(join(dir, id), { force: true });
  }

  private async download(id: string, dest: string): Promise<void> {
    for (const dir of [this.paths.sensitiveBlobs, this.paths.blobs]) {
      const cached = join(dir, id);
      if (await access(cached).then(() => true, () => false)) return copyFile(cached, dest);
    }
    await this.store.get(id, dest);
  }
}
