import { CapstanError } from '../common/errors.js';

/** A release directory or tarball that cannot be used; the message names the file at fault. */
export class ReleaseError extends CapstanError {
  constructor(message: string) {
    super(message, 100, 400);
    this.name = 'ReleaseError';
  }
}

// The director's identifier rule for release, job and package names and versions.
const IDENTIFIER = /^[-0-9A-Za-z_+.]+$/;

export function checkIdentifier(kind: string, value: unknown, where: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new ReleaseError(`${where}: invalid ${kind} '${String(value)}' (allowed: letters, digits, '-', '_', '+', '.')`);
  }
  return value;
}
