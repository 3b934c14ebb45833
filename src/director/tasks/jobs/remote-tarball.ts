// Uploads by URL (POST /releases or /stemcells with JSON {location, sha1}): the task downloads the
// tarball (http or https) to the API's spool path and checks its digest before reading it.
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { verifyFileDigest } from '../../../common/digest.js';
import { CapstanError } from '../../../common/errors.js';

export type RemoteTarballKind = 'release' | 'stemcell';

// bosh's error codes: ResourceError / ResourceNotFound, Release-/StemcellSha1DoesNotMatch
const RESOURCE_ERROR = 100001;
const RESOURCE_NOT_FOUND = 100002;
const DIGEST_MISMATCH: Record<RemoteTarballKind, number> = { release: 30015, stemcell: 50007 };

/** Streams `location` to `dest`; an unreachable URL or a non-2xx answer fails with the URL and reason. */
export async function downloadRemoteTarball(kind: RemoteTarballKind, location: string, dest: string): Promise<void> {
  const failure = (reason: string, code = RESOURCE_ERROR) => new CapstanError(`Downloading remote ${kind} from '${location}' failed: ${reason}`, code, 400);
  const res = await fetch(location).catch((err: Error) => {
    throw failure((err.cause as Error | undefined)?.message ?? err.message);
  });
  if (res.status === 404) throw failure('HTTP 404 Not Found', RESOURCE_NOT_FOUND);
  if (!res.ok || !res.body) throw failure(`HTTP ${res.status}`);
  await pipeline(Readable.fromWeb(res.body as ReadableStream), createWriteStream(dest));
}

/** Checks the downloaded file against a sha1 or multi-digest (`sha256:...`) given with the URL. */
export async function verifyRemoteTarball(kind: RemoteTarballKind, location: string, path: string, digest: string): Promise<void> {
  await verifyFileDigest(path, digest).catch((err: Error) => {
    throw new CapstanError(`Verifying remote ${kind} from '${location}' failed: ${err.message}`, DIGEST_MISMATCH[kind], 400);
  });
}
