// Property-based attacks (fast-check, fixed seed, bounded runs) on the parsers that read untrusted
// input: deployment manifests and cloud configs, tarballs (release reader and safeExtract), the
// agent's NATS message decoder, and the ops-file engine. Each must either succeed or throw its
// documented error type with a message — never crash with something else, hang, pollute
// prototypes, or write outside the destination directory.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { YAMLError } from 'yaml';
import { createLogger } from '../../src/common/logging.js';
import { UnsafeArchiveError, safeExtract } from '../../src/common/tar.js';
import { parseCloudConfig, parseDeploymentManifest } from '../../src/manifest/index.js';
import { ManifestError } from '../../src/manifest/types.js';
import { applyOperation, OpsError, parseOpsFile, parsePointer, type Operation } from '../../src/manifest/ops.js';
import { readReleaseTarball } from '../../src/release/tarball.js';
import { createActionFactory } from '../../src/agent/actions/factory.js';
import { dispatch, parseRequest } from '../../src/agent/mbus/dispatcher.js';
import { TaskManager } from '../../src/agent/mbus/task-manager.js';
import type { AgentServices } from '../../src/agent/services.js';

const SEED = 20261121;
const runs = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true, includeErrorInReport: true });
const work = mkdtempSync(join(tmpdir(), 'capstan-fuzz-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs fn and returns its error (or undefined); the error must be one of `allowed`. */
function expectCleanFailure(fn: () => unknown, allowed: Array<new (...args: any[]) => Error>, what: string): void {
  try {
    fn();
  } catch (err) {
    assert.ok(allowed.some((type) => err instanceof type), `${what}: unexpected ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.ok((err as Error).message.length > 0, `${what}: error without a message`);
  }
}

// ---------------------------------------------------------------- manifests

const VALID_MANIFEST = {
  name: 'web',
  releases: [{ name: 'nginx', version: '1' }],
  stemcells: [{ alias: 'default', os: 'ubuntu-jammy', version: 'latest' }],
  update: { canaries: 1, max_in_flight: 1, canary_watch_time: 1000, update_watch_time: 1000 },
  instance_groups: [
    { name: 'web', instances: 1, azs: ['z1'], vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }], jobs: [{ name: 'nginx', release: 'nginx', properties: {} }] },
  ],
};

const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const yamlishValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 })),
})).value;

/** The valid manifest with the value at a random path replaced by a random value. */
const mutatedManifest = fc
  .tuple(fc.array(fc.oneof(fc.constantFrom('name', 'releases', 'stemcells', 'update', 'instance_groups', 'jobs', 'networks', 'instances', 'azs', 'properties', 'version', 'alias'), fc.nat(3)), { minLength: 1, maxLength: 4 }), yamlishValue)
  .map(([path, value]) => {
    const doc = structuredClone(VALID_MANIFEST) as any;
    let node = doc;
    for (const key of path.slice(0, -1)) {
      if (node == null || typeof node !== 'object' || !(key in node)) break;
      node = node[key];
    }
    if (node != null && typeof node === 'object') node[path[path.length - 1]] = value;
    return stringify(doc);
  });

/** YAML fragments that have hurt parsers: tags, merge keys, anchors, odd scalars. */
const hostileYaml = fc
  .array(
    fc.constantFrom(
      'name: x\n', '<<: *a\n', 'a: &a {b: 1}\n', 'c: *a\n', '!!js/function "f(){}"\n', 'x: !!binary AAAA\n', '? [a, b]\n: c\n',
      '---\n', '...\n', '%YAML 1.1\n', 'k: 0x1F\n', 'k: 1_000\n', 'k: .inf\n', 'k: yes\n', '"\\u0000": 1\n', 'k: [\n', '\t- x\n',
      '__proto__: {polluted: 1}\n', 'constructor: {prototype: {polluted: 1}}\n', 'instance_groups: *a\n', 'releases: [{name: *a}]\n',
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));

/** A small "billion laughs": aliases of aliases, levels deep. */
function anchorBomb(levels: number, width: number): string {
  let text = `l0: &l0 [${Array(width).fill('"lol"').join(', ')}]\n`;
  for (let i = 1; i <= levels; i++) text += `l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(', ')}]\n`;
  return `${text}name: bomb\n`;
}

test('manifest parser: random text, hostile YAML and mutated manifests give a manifest or a ManifestError', { timeout: 120_000 }, () => {
  const text = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 }), hostileYaml, mutatedManifest, yamlishValue.map((v) => stringify(v)));
  fc.assert(
    fc.property(text, (input) => {
      expectCleanFailure(() => parseDeploymentManifest(input, 'fuzz.yml'), [ManifestError], 'deployment manifest');
      expectCleanFailure(() => parseCloudConfig(input, 'cloud.yml'), [ManifestError], 'cloud config');
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'prototype polluted');
    }),
    runs(400),
  );
});

test('manifest parser: anchor bombs are refused quickly with a ManifestError', () => {
  fc.assert(
    fc.property(fc.integer({ min: 6, max: 12 }), fc.integer({ min: 9, max: 20 }), (levels, width) => {
      assert.throws(() => parseDeploymentManifest(anchorBomb(levels, width), 'bomb.yml'), (err: Error) => err instanceof ManifestError && /aliases expand too much/.test(err.message));
    }),
    runs(20),
  );
});

// ---------------------------------------------------------------- tarballs

type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'chardev' | 'blockdev' | 'fifo';
interface TarEntry {
  path: string;
  type: EntryType;
  linkpath: string;
  body: string;
}
const TYPE_FLAG: Record<EntryType, string> = { file: '0', hardlink: '1', symlink: '2', chardev: '3', blockdev: '4', dir: '5', fifo: '6' };

/** A raw ustar archive, written by hand so entries can be anything an attacker can put in a header. */
function tarball(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = e.type === 'file' ? Buffer.from(e.body) : Buffer.alloc(0);
    const header = Buffer.alloc(512);
    const put = (value: string, offset: number, length: number) => header.write(value.slice(0, length), offset, length, 'utf8');
    const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0');
    put(e.path, 0, 100);
    put(octal(e.type === 'dir' ? 0o755 : 0o644, 8), 100, 8);
    put(octal(0, 8), 108, 8);
    put(octal(0, 8), 116, 8);
    put(octal(body.length, 12), 124, 12);
    put(octal(0, 12), 136, 12);
    header.fill(' ', 148, 156);
    put(TYPE_FLAG[e.type], 156, 1);
    put(e.linkpath, 157, 100);
    put('ustar\u000000', 257, 8);
    put(octal(1, 8), 329, 8);
    put(octal(3, 8), 337, 8);
    let sum = 0;
    for (const byte of header) sum += byte;
    put(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

const segment = fc.constantFrom('a', 'b', 'jobs', 'packages', 'release.MF', '..', '.', '', 'x.tgz', 'link', 'c d');
const entryPath = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/${s.join('/')}`),
  fc.constantFrom('../outside/pwned', '/tmp/pwned', 'a/../../outside/pwned', './../pwned', 'link/pwned', 'C:\\pwned'),
);
const safeSegment = fc.constantFrom('a', 'b', 'jobs', 'link', 'x.tgz');
const plausibleEntry = fc.record({
  path: fc.array(safeSegment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/')),
  type: fc.constantFrom<EntryType>('file', 'dir', 'symlink', 'hardlink'),
  linkpath: fc.oneof(fc.array(fc.constantFrom('a', 'b', '..', 'link'), { minLength: 1, maxLength: 3 }).map((s) => s.join('/')), fc.constantFrom('../outside', '/etc')),
  body: fc.string({ maxLength: 20 }),
}).map((e) => (e.type === 'symlink' || e.type === 'hardlink' ? e : { ...e, linkpath: '' }));
const hostileEntry = fc.record({
  path: entryPath,
  type: fc.constantFrom<EntryType>('file', 'file', 'dir', 'symlink', 'hardlink', 'chardev', 'blockdev', 'fifo'),
  linkpath: fc.oneof(entryPath, fc.constantFrom('..', '../outside', '/etc', '/', 'a', '../../..')),
  body: fc.string({ maxLength: 20 }),
});
// a linkpath on a file or directory is refused by the parser: keep a few, not most
const hostileOrPlain = fc.tuple(hostileEntry, fc.nat(4)).map(([e, keep]) => (e.type === 'symlink' || e.type === 'hardlink' || keep === 0 ? e : { ...e, linkpath: '' }));
const tarEntry = fc.oneof({ arbitrary: plausibleEntry, weight: 4 }, { arbitrary: hostileOrPlain, weight: 1 });

/** Everything below dir (relative paths), not following links. */
function tree(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const child = rel ? `${rel}/${name}` : name;
      out.push(child);
      const stat = lstatSync(join(dir, child));
      if (stat.isDirectory()) walk(child);
    }
  };
  walk('');
  return out.sort();
}

/** Nothing outside `dest` changed; inside it, no device files and no link pointing out. */
function assertContained(root: string, dest: string): void {
  assert.deepEqual(tree(root).filter((p) => !p.startsWith('dest/') && p !== 'dest'), ['outside', 'outside/canary'], 'something was written outside the destination');
  assert.equal(readFileSync(join(root, 'outside', 'canary'), 'utf8'), 'canary');
  for (const rel of tree(dest)) {
    const full = join(dest, rel);
    const stat = lstatSync(full);
    assert.ok(stat.isFile() || stat.isDirectory() || stat.isSymbolicLink(), `'${rel}' is a special file`);
    if (stat.isSymbolicLink()) {
      const target = resolve(dirname(full), readlinkSync(full));
      assert.ok(!relative(dest, target).startsWith('..') && !readlinkSync(full).startsWith('/'), `link '${rel}' points outside: ${readlinkSync(full)}`);
    }
  }
}

function sandbox(name: string): { root: string; dest: string; archive: string } {
  const root = join(work, name);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, 'outside'), { recursive: true });
  writeFileSync(join(root, 'outside', 'canary'), 'canary');
  return { root, dest: join(root, 'dest'), archive: join(work, `${name}.tgz`) };
}

/** Fails instead of hanging: a promise that never settles is a bug the property must report. */
async function settles<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`HANG: ${what} did not settle within ${ms / 1000}s`)), ms)));
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

const allowedArchiveError = (err: unknown) =>
  err instanceof UnsafeArchiveError || (err instanceof Error && /^(Reading|Extracting) archive '/.test(err.message)) || (err instanceof Error && err.name === 'ReleaseError') || err instanceof ManifestError;

test('safeExtract and the release reader: random entries (.., absolute, links, devices) never escape the destination', { timeout: 300_000 }, async () => {
  let n = 0;
  let extracted = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(tarEntry, { minLength: 1, maxLength: 6 }), fc.boolean(), async (entries, asRelease) => {
      const box = sandbox(`t${n++}`);
      writeFileSync(box.archive, tarball(entries));
      try {
        if (asRelease) await settles(readReleaseTarball(box.archive, box.dest), 'readReleaseTarball');
        else await settles(safeExtract(box.archive, box.dest), 'safeExtract');
        extracted++;
      } catch (err) {
        assert.ok(allowedArchiveError(err), `unexpected ${(err as Error)?.name}: ${(err as Error)?.message}`);
        if (process.env.FUZZ_DEBUG) console.log((err as Error).message);
        // the release reader got past extraction and then found it is no release
        if (!(err instanceof UnsafeArchiveError) && !/archive '/.test((err as Error).message)) extracted++;
      }
      assertContained(box.root, box.dest);
      rmSync(box.root, { recursive: true, force: true });
    }),
    runs(300),
  );
  assert.ok(extracted >= 30, `only ${extracted} of ${n} archives were extracted: the property barely ran the extractor`);
});

test('safeExtract refuses device files and FIFOs by name', async () => {
  for (const type of ['chardev', 'blockdev', 'fifo'] as const) {
    const box = sandbox(`dev-${type}`);
    writeFileSync(box.archive, tarball([{ path: 'a', type: 'dir', linkpath: '', body: '' }, { path: 'a/null', type, linkpath: '', body: '' }]));
    await assert.rejects(safeExtract(box.archive, box.dest), (err: Error) => err instanceof UnsafeArchiveError && /entry 'a\/null' is a (device file|FIFO)/.test(err.message));
    assertContained(box.root, box.dest);
  }
});

test('safeExtract refuses, instead of hanging on, a link to one of its own parent directories (found by this fuzzer)', async () => {
  for (const [path, linkpath] of [['a/jobs', 'x/../a'], ['a/b/c', 'a/b/'], ['a/b', './a/./']]) {
    const box = sandbox('self-link');
    writeFileSync(box.archive, tarball([{ path, type: 'symlink', linkpath, body: '' }]));
    await assert.rejects(settles(safeExtract(box.archive, box.dest), 'safeExtract'), /is a link to one of its own parent directories/);
    assertContained(box.root, box.dest);
  }
});

test('safeExtract: random bytes and truncated archives are a clear error', { timeout: 120_000 }, async () => {
  const valid = tarball([{ path: 'a/b', type: 'file', linkpath: '', body: 'hello' }]);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)), fc.nat(valid.length - 1).map((cut) => valid.subarray(0, cut))), async (bytes) => {
      const box = sandbox(`r${n++}`);
      writeFileSync(box.archive, bytes);
      await safeExtract(box.archive, box.dest).catch((err) => assert.ok(allowedArchiveError(err), `unexpected ${(err as Error)?.name}: ${(err as Error)?.message}`));
      assertContained(box.root, box.dest);
      rmSync(box.root, { recursive: true, force: true });
    }),
    runs(150),
  );
});

// ---------------------------------------------------------------- agent message decoder

const jsonish = fc.jsonValue({ maxDepth: 3 });
const requestBody = fc.oneof(
  fc.string({ maxLength: 100 }),
  fc.uint8Array({ maxLength: 100 }),
  jsonish.map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        method: fc.oneof(fc.constantFrom('ping', 'info', 'get_task', 'cancel_task', 'constructor', '__proto__', 'toString', 'hasOwnProperty', ''), fc.string({ maxLength: 10 }), jsonish),
        arguments: fc.oneof(fc.array(jsonish, { maxLength: 3 }), jsonish),
        reply_to: fc.oneof(fc.string({ maxLength: 30 }), jsonish),
        protocol: fc.oneof(fc.integer(), jsonish),
        METHOD: fc.string({ maxLength: 5 }),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.constant('{"method":"ping","__proto__":{"polluted":1},"reply_to":"r"}'),
);

test('agent decoder: any body gives a typed request or a clean error; dispatch never throws', { timeout: 120_000 }, async () => {
  const tasks = new TaskManager();
  const logger = createLogger('fuzz-agent', { write: () => {} }, 'silent');
  // only actions that touch nothing but the task manager are reachable with these method names
  const factory = createActionFactory({ tasks, logger } as unknown as AgentServices);
  await fc.assert(
    fc.asyncProperty(requestBody, async (body) => {
      try {
        const parsed = parseRequest(body);
        assert.equal(typeof parsed.method, 'string');
        assert.ok(Array.isArray(parsed.args));
        assert.equal(typeof parsed.replyTo, 'string');
        assert.equal(typeof parsed.protocol, 'number');
      } catch (err) {
        assert.ok(err instanceof SyntaxError || (err instanceof Error && err.message === 'request is not a JSON object'), `unexpected ${(err as Error)?.message}`);
      }
      const out = await dispatch(body, { factory, tasks, logger });
      if (out !== undefined) {
        assert.equal(typeof out.replyTo, 'string');
        const response = out.response as Record<string, unknown>;
        assert.ok('value' in response || typeof (response.exception as { message?: unknown })?.message === 'string', JSON.stringify(response));
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'prototype polluted');
    }),
    runs(500),
  );
});

// ---------------------------------------------------------------- ops files

const token = fc.oneof(
  fc.constantFrom('a', 'b', 'name=web', 'name=web?', 'x?', '-', '0', '1', '5', '-1', '0:prev', '0:next', '0:before', '0:after', 'name=web:after', '__proto__', 'constructor', 'prototype', '~1', '~0', '', 'a?'),
  fc.string({ maxLength: 6 }),
);
const pointer = fc.oneof(fc.array(token, { maxLength: 5 }).map((t) => `/${t.join('/')}`), fc.string({ maxLength: 20 }));
const operation = fc.oneof(
  fc.record({ type: fc.constant('replace' as const), path: pointer, value: jsonish }),
  fc.record({ type: fc.constant('remove' as const), path: pointer }),
  fc.record({ type: fc.constant('test' as const), path: pointer, value: jsonish }),
);
const document = fc.oneof(
  fc.constant(structuredClone(VALID_MANIFEST) as unknown),
  fc.constant({ a: { b: [1, 2] }, instance_groups: [{ name: 'web', jobs: [] }] } as unknown),
  jsonish as fc.Arbitrary<unknown>,
);

test('ops engine: random pointers, operations and documents give a result or an OpsError; input untouched', { timeout: 120_000 }, () => {
  fc.assert(
    fc.property(document, fc.array(operation, { maxLength: 4 }), (doc, ops) => {
      const before = JSON.stringify(doc);
      let current = doc as never;
      for (const raw of ops) {
        let op: Operation;
        try {
          op = raw.type === 'remove' ? { type: 'remove', path: parsePointer(raw.path) } : { ...raw, path: parsePointer(raw.path) };
        } catch (err) {
          assert.ok(err instanceof OpsError, `parsePointer('${raw.path}'): ${(err as Error)?.name}: ${(err as Error)?.message}`);
          continue;
        }
        try {
          current = applyOperation(current, op) as never;
        } catch (err) {
          assert.ok(err instanceof OpsError, `${raw.type} '${raw.path}': ${(err as Error)?.name}: ${(err as Error)?.message}`);
        }
      }
      assert.equal(JSON.stringify(doc), before, 'operations mutated their input');
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'prototype polluted');
      assert.equal((Object.prototype as Record<string, unknown>).web, undefined, 'prototype polluted');
    }),
    runs(600),
  );
});

test('ops files: random YAML gives operations, an OpsError or a YAML error', () => {
  const opsText = fc.oneof(fc.string({ maxLength: 120 }), hostileYaml, fc.array(operation, { maxLength: 3 }).map((ops) => stringify(ops)), yamlishValue.map((v) => stringify(v)));
  fc.assert(
    fc.property(opsText, (text) => {
      expectCleanFailure(() => parseOpsFile(text, 'ops.yml'), [OpsError, YAMLError], 'ops file');
    }),
    runs(400),
  );
});
