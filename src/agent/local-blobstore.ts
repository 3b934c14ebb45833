// Agent blobstore provider "local": copies files in and out of options.blobstore_path (§7.1).
import { copyFile, mkdir, rm, access } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BlobNotFound, type Blobstore } from '../blobstore/blobstore.js';

export class LocalBlobstore implements Blobstore {
  constructor(private readonly dir: string) {
    if (!dir) throw new Error('local blobstore needs options.blobstore_path');
  }

  async put(filePath: string, id: string = randomUUID()): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o770 });
    await copyFile(filePath, this.path(id));
    return id;
  }

  async get(id: string, destPath: string): Promise<void> {
    if (!(await this.exists(id))) throw new BlobNotFound(id);
    await copyFile(this.path(id), destPath);
  }

  async getStream(id: string): Promise<Readable> {
    if (!(await this.exists(id))) throw new BlobNotFound(id);
    return createReadStream(this.path(id));
  }

  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }

  async exists(id: string): Promise<boolean> {
    return access(this.path(id)).then(
      () => true,
      () => false,
    );
  }

  private path(id: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(id) || id.startsWith('.')) throw new Error(`Invalid blob id '${id}'`);
    return join(this.dir, id);
  }
}
