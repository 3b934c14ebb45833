// Blobs as files in one directory: what the director uses for the embedded blobstore, and what the
// embedded DAV server (dav-server.ts) serves to agents.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobNotFound, type Blobstore } from './blobstore.js';

/** Blob ids are single path segments: no separators, no `..`, nothing hidden. */
export function isValidBlobId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id) && !id.includes('..') && id.length <= 255;
}

export function assertValidBlobId(id: string): void {
  if (!isValidBlobId(id)) throw new Error(`Invalid blob id '${id}'`);
}

export class LocalBlobstore implements Blobstore {
  constructor(readonly dir: string) {}

  pathFor(id: string): string {
    assertValidBlobId(id);
    return join(this.dir, id);
  }

  /** A temp path in the blob directory, so that the final rename stays on one filesystem. */
  tempPath(): string {
    return join(this.dir, `.tmp-${randomUUID()}`);
  }

  async put(filePath: string, id: string = randomUUID()): Promise<string> {
    const dest = this.pathFor(id);
    await mkdir(this.dir, { recursive: true });
    const temp = this.tempPath();
    try {
      await copyFile(filePath, temp);
      await rename(temp, dest); // readers never see a half-written blob
    } finally {
      await rm(temp, { force: true });
    }
    return id;
  }

  async get(id: string, destPath: string): Promise<void> {
    try {
      await copyFile(this.pathFor(id), destPath);
    } catch (err) {
      throw isMissing(err) ? new BlobNotFound(id) : err;
    }
  }

  async getStream(id: string): Promise<Readable> {
    if (!(await this.exists(id))) throw new BlobNotFound(id);
    return createReadStream(this.pathFor(id));
  }

  async delete(id: string): Promise<void> {
    await rm(this.pathFor(id), { force: true });
  }

  async exists(id: string): Promise<boolean> {
    try {
      return (await stat(this.pathFor(id))).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}
