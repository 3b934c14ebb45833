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
import type { VcapPaths } from './platform/paths.js';

const ATTEMPTS = 3;

export function createBlobstore(settings: BlobstoreSettings): Blobstore {
  switch (settings.provider) {
    case 'local':
      return new LocalBlobstore(String(settings.options.blobstore_path ?? ''));
    case 'dav':
      return new DavBlobstore(settings.options as unknown as DavOptions);
    default:
      throw new Error(`Blobstore provider '${settings.provider}' is not supported`);
  }
}

export class BlobManager {
  constructor(
    private readonly store: Blobstore,
    private readonly paths: VcapPaths,
  ) {}

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
