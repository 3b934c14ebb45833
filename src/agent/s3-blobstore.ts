// Agent blobstore provider "s3" (§7.1): the shared S3 client, also used by the CLI for release blobstores.
export { S3Blobstore, type S3Options } from '../blobstore/s3.js';
