// The redacting logger: whatever shape a secret arrives in (URL credentials, PEM keys, Basic and
// bearer headers, bare JWTs, `password=` text, secret-named fields at any depth, error messages),
// no log line carries it. Property-based over generated secrets (fast-check, fixed seed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { createLogger } from '../../src/common/logging.js';
import { REDACTED, redactText, redactValue } from '../../src/common/redact.js';

const runs = { seed: 20261121, numRuns: 200 };
/** What Capstan generates: base64url passwords (randomPassword), at least 16 characters. */
const secret = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 16, maxLength: 40 });

function captured(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger('redaction-test', { write: (line: string) => void lines.push(line) }, 'debug') };
}

const jwtOf = (s: string) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ user_name: 'admin', secret: s })).toString('base64url')}.${s}`;

test('secrets in text are redacted in every shape a log line may carry them', () => {
  fc.assert(
    fc.property(secret, (s) => {
      const texts = [
        `connecting to postgres://capstan:${s}@db:5432/bosh`,
        `https://blob:${s}@10.245.0.1:25250/abc`,
        `Authorization: Basic ${Buffer.from(`admin:${s}`).toString('base64')}`,
        `authorization: bearer ${s}`,
        `token is ${jwtOf(s)} (expired)`,
        `password=${s}`,
        `{"password": "${s}", "user": "admin"}`,
        `client_secret: ${s}`,
        `access_token=${s}&x=1`,
        `uaa symmetric_key=${s}`,
      ];
      for (const text of texts) {
        const out = redactText(text);
        assert.ok(!out.includes(s), `leaked from '${text}': '${out}'`);
        assert.ok(out.includes(REDACTED), out);
      }
    }),
    runs,
  );
});

test('PEM private keys of every kind are removed whole', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys = [
    rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n',
  ];
  for (const key of keys) {
    const body = key.split('\n')[1];
    assert.ok(!redactText(`settings: ${key} done`).includes(body));
    // JSON-escaped, as in a logged settings file
    assert.ok(!redactText(JSON.stringify({ env: { bosh: { mbus: { cert: { private_key: key } } } } })).includes(body));
  }
});

test('secret-named fields are redacted at any depth, errors included, and through the logger', () => {
  fc.assert(
    fc.property(secret, fc.constantFrom('password', 'client_secret', 'private_key', 'token', 'access_token', 'refresh_token', 'symmetric_key', 'authorization', 'Password'), (s, key) => {
      const value = { request: { headers: { [key]: s } }, list: [{ nested: { [key]: s } }], err: new Error(`login with password=${s} failed`) };
      assert.ok(!JSON.stringify(redactValue(value)).includes(s));
      const { lines, logger } = captured();
      logger.info(value, `message with ${key}=${s}`);
      logger.debug(`bearer ${jwtOf(s)}`);
      logger.error({ err: new Error(`postgres://u:${s}@h/db unreachable`) }, 'failed');
      logger.flush?.();
      const output = lines.join('');
      assert.ok(lines.length === 3, `3 lines logged, got ${lines.length}`);
      assert.ok(!output.includes(s), `leaked: ${output}`);
    }),
    runs,
  );
});

test('what is not a secret stays readable', () => {
  const text = 'Updating instance web/0 (canary); task 42; digest sha256:abc; user admin';
  assert.equal(redactText(text), text);
  assert.deepEqual(redactValue({ name: 'web', instances: 3, passwords_generated: 2 }), { name: 'web', instances: 3, passwords_generated: 2 });
});
