// A release directory's blobstore (final blobs and final job/package builds): config/final.yml
// `blobstore: {provider, options}` with the options of config/private.yml merged over them, as the bosh
// CLI reads them. Providers: local (`blobstore_path`), dav (`endpoint`, `user`, `password`), s3
// (`bucket_name`, `region`, `host`/`endpoint`, `access_key_id`/`secret_access_key` in private.yml).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Blobstore } from '../blobstore/blobstore.js';
import { parseYaml } from '../common/yaml.js';
import { ReleaseError } from './errors.js';

interface BlobstoreConfig {
  provider?: string;
  options?: Record<string, unknown>;
}

async function blobstoreSection(dir: string, file: string): Promise<BlobstoreConfig | undefined> {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  const doc = parseYaml(await readFile(path, 'utf8'), file).value as { blobstore?: BlobstoreConfig } | null;
  return doc?.blobstore ?? undefined;
}

/** The blobstore of the release in `dir`; throws a ReleaseError naming config/final.yml when it is not usable. */
export async function releaseBlobstore(dir: string): Promise<Blobstore> {
  const final = await blobstoreSection(dir, 'config/final.yml');
  const secret = await blobstoreSection(dir, 'config/private.yml');
  const provider = final?.provider ?? secret?.provider;
  const options = { ...final?.options, ...secret?.options };
  switch (provider) {
    case 'local': {
      if (typeof options.blobstore_path !== 'string') throw new ReleaseError('Expected config/final.yml blobstore.options.blobstore_path for the local blobstore');
      const { LocalBlobstore } = await import('../blobstore/local.js');
      return new LocalBlobstore(resolve(dir, options.blobstore_path));
    }
    case 'dav': {
      if (typeof options.endpoint !== 'string') throw new ReleaseError('Expected config/final.yml blobstore.options.endpoint for the dav blobstore');
      const { DavBlobstore } = await import('../blobstore/dav-client.js');
      return new DavBlobstore(options as unknown as import('../blobstore/dav-client.js').DavOptions);
    }
    case 's3': {
      const { S3Blobstore } = await import('../blobstore/s3.js');
      return new S3Blobstore(s3Options(options));
    }
    default:
      throw new ReleaseError(`Expected blobstore provider 'local', 'dav' or 's3' in config/final.yml but found '${provider ?? 'none'}'`);
  }
}

/**
 * bosh's s3 release blobstore options: `endpoint` (a URL) stands for host, port and use_ssl; without keys
 * the requests are anonymous (public buckets: sync-blobs of a public release needs no private.yml).
 */
export function s3Options(options: Record<string, unknown>): import('../blobstore/s3.js').S3Options {
  if (typeof options.bucket_name !== 'string') throw new ReleaseError('Expected config/final.yml blobstore.options.bucket_name for the s3 blobstore');
  const out: Record<string, unknown> = { ...options };
  if (typeof options.endpoint === 'string') {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new ReleaseError(`Expected config/final.yml blobstore.options.endpoint '${options.endpoint}' to be a URL`);
    }
    out.host = url.hostname;
    out.use_ssl = url.protocol === 'https:';
    if (url.port) out.port = Number(url.port);
    delete out.endpoint;
  }
  if (typeof out.port === 'string') out.port = Number(out.port);
  if (!out.credentials_source) out.credentials_source = out.access_key_id ? 'static' : 'none';
  return out as unknown as import('../blobstore/s3.js').S3Options;
}
