// The CLI bundle (scripts/build-cli.mjs): it answers without tsx, loads commands lazily, and hands
// the server-side commands (director, agent, monitor, ...) to the TypeScript sources.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
// inside the repository (the bundle finds the repository by walking up), apart from dist/capstan.mjs
const OUT = join(ROOT, 'dist', `test-bundle-${process.pid}`);

before(async () => {
  const { buildCli } = (await import(join(ROOT, 'scripts/build-cli.mjs'))) as { buildCli: (o: { outdir: string }) => Promise<string> };
  await buildCli({ outdir: OUT });
});
after(() => rmSync(OUT, { recursive: true, force: true }));

function bundle(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(OUT, 'capstan.mjs'), ...args], { env: { PATH: process.env.PATH, CAPSTAN_HOME: join(OUT, 'home') } }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('the bundle prints the version without loading any command', async () => {
  const { code, stdout } = await bundle(['--version']);
  assert.equal(code, 0);
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  assert.equal(stdout, `version ${version}\n\nSucceeded\n`);
});

test('the bundle runs client commands itself (interpolate, through lazily loaded chunks)', async () => {
  const { code, stdout, stderr } = await bundle(['int', join(ROOT, 'examples/nginx/config/final.yml'), '--path', '/name']);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, 'nginx\n');
});

test('server-side commands run from source', async () => {
  const { code, stdout, stderr } = await bundle(['director', '--help']);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^Usage: capstan director \[options\]/);
});

test('capstan.inputs lists the sources bin/capstan checks for staleness, all present', () => {
  const inputs = readFileSync(join(OUT, 'capstan.inputs'), 'utf8').trim().split('\n');
  assert.ok(inputs.includes('src/cli/main.ts') && inputs.includes('src/manifest/ops.ts') && inputs.includes('package.json'));
  assert.ok(!inputs.some((p) => /^src\/(director\/(server|api|deploy)|agent|monitor)\b/.test(p)), 'the director, agent and monitor are not bundled');
  for (const p of inputs) assert.ok(existsSync(join(ROOT, p)), p);
});
