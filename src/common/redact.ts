// Secrets must never reach a log line: credentials in URLs, private keys, passwords and tokens.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]+):([^\s@/]+)@/gi;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;
const SECRET_ASSIGNMENT = /\b(password|passwd|secret|token|client_secret|private_key|access_token|refresh_token|id_token|symmetric_key|api_key|authorization)(["']?\s*[:=]\s*["']?)([^\s"',}&]+)/gi;
const AUTH_HEADER = /\b(Basic|Bearer)\s+[A-Za-z0-9+/=._-]{8,}/gi;
// a JWT anywhere (header and payload are base64url JSON, so both start with "eyJ")
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

export const REDACTED = '<redacted>';

export function redactText(text: string): string {
  return text
    .replace(PEM_PRIVATE_KEY, REDACTED)
    .replace(URL_CREDENTIALS, `$1${REDACTED}@`)
    .replace(AUTH_HEADER, `$1 ${REDACTED}`)
    .replace(JWT, REDACTED)
    .replace(SECRET_ASSIGNMENT, `$1$2${REDACTED}`);
}

const SECRET_KEYS = /^(password|passwd|secret|token|client_secret|private_key|privateKey|payload|authorization|certificate_key|access_token|refresh_token|id_token|symmetric_key|api_key)$/i;

/** Deep copy of a value with secret-named keys and secret-looking strings redacted. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 12) return value;
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value && typeof value === 'object') {
    if (value instanceof Error) return { message: redactText(value.message), stack: redactText(value.stack ?? '') };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEYS.test(k) && v ? REDACTED : redactValue(v, depth + 1);
    }
    return out;
  }
  return value;
}
