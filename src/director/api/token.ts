// UAA-style bearer tokens (director-api.md §1.3): a JWT signed with HS256 (shared symmetric key)
// or RS256 (UAA's public key). Expired, not-yet-valid, refresh (`jti` ending `-r`) and unsigned
// tokens are refused; the user is `user_name` or else `client_id`, the scopes come from `scope`.
import { createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

export interface TokenKeys {
  symmetricKey?: string;
  publicKeyPem?: string;
}

export interface TokenPrincipal {
  user: string;
  scopes: string[];
}

export class InvalidToken extends Error {
  constructor(reason: string) {
    super(`Invalid bearer token: ${reason}`);
    this.name = 'InvalidToken';
  }
}

const MAX_TOKEN_LENGTH = 16 * 1024;
const CLOCK_SKEW_SECONDS = 60;

function decodeJson(part: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new InvalidToken(`${what} is not a JSON object`);
}

function signatureValid(alg: unknown, signed: string, signature: Buffer, keys: TokenKeys, publicKey: KeyObject | undefined): boolean {
  if (alg === 'HS256' && keys.symmetricKey) {
    const expected = createHmac('sha256', keys.symmetricKey).update(signed).digest();
    return expected.length === signature.length && timingSafeEqual(expected, signature);
  }
  if (alg === 'RS256' && publicKey) return verify('RSA-SHA256', Buffer.from(signed), publicKey, signature);
  // 'none', algorithms without a configured key, and anything else: never accepted
  throw new InvalidToken(`algorithm '${String(alg)}' is not accepted`);
}

export class TokenVerifier {
  private readonly publicKey: KeyObject | undefined;

  constructor(private readonly keys: TokenKeys, private readonly now: () => number = () => Date.now() / 1000) {
    this.publicKey = keys.publicKeyPem ? createPublicKey(keys.publicKeyPem) : undefined;
  }

  verify(token: string): TokenPrincipal {
    if (token.length > MAX_TOKEN_LENGTH) throw new InvalidToken('too long');
    const parts = token.split('.');
    if (parts.length !== 3) throw new InvalidToken('not a JWT');
    const [header, payload, signature] = parts;
    const { alg } = decodeJson(header, 'header');
    if (!signatureValid(alg, `${header}.${payload}`, Buffer.from(signature, 'base64url'), this.keys, this.publicKey)) {
      throw new InvalidToken('signature does not match');
    }
    return this.claims(decodeJson(payload, 'payload'));
  }

  private claims(claims: Record<string, unknown>): TokenPrincipal {
    const now = this.now();
    if (typeof claims.exp !== 'number') throw new InvalidToken('no expiry');
    if (claims.exp + CLOCK_SKEW_SECONDS < now) throw new InvalidToken('expired');
    if (typeof claims.nbf === 'number' && claims.nbf - CLOCK_SKEW_SECONDS > now) throw new InvalidToken('not valid yet');
    if (typeof claims.jti === 'string' && claims.jti.endsWith('-r')) throw new InvalidToken('refresh tokens are not accepted');
    const user = typeof claims.user_name === 'string' ? claims.user_name : typeof claims.client_id === 'string' ? claims.client_id : undefined;
    if (!user) throw new InvalidToken('neither user_name nor client_id');
    const scopes = Array.isArray(claims.scope) ? claims.scope.filter((s): s is string => typeof s === 'string') : [];
    return { user, scopes };
  }
}
