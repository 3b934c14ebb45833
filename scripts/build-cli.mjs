#!/usr/bin/env node
// Bundles the capstan CLI (src/cli/entry.ts -> main.ts) for a fast cold start: dist/capstan.mjs plus lazily
// loaded chunks in dist/capstan-chunks/ (each command imports its heavy modules on demand).
// npm packages that are server-side or native stay external (loaded from node_modules when a
// command needs them); server-side commands (director, agent, monitor, stemcell, up, down) run
// from source — the bundle hands them to tsx (src/cli/main.ts, SOURCE_ONLY).
// Usage: node scripts/build-cli.mjs
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, relative, resolve } from 'node:path';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_ENTRY = resolve(root, 'src/cli/entry.ts');
// Next to the bundle, capstan.inputs lists the repository files it was built from, one per line:
// bin/capstan falls back to source when any of them is newer than the bundle.

const EXTERNAL_PACKAGES = [
  'better-sqlite3', 'pg', 'fastify', '@fastify/*', 'dockerode', 'nats', 'pino', 'kysely', 'node-forge', 'esbuild', 'tsx',
  'prom-client', 'nodemailer', 'smtp-server',
];
// Modules only the source-run commands load: never bundled.
const SERVER_ONLY = /[\\/]src[\\/](director|agent|monitor|stemcell[\\/](builder|agent-bundle))(\.ts|\.js|[\\/])/;

const serverOnly = {
  name: 'capstan-server-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const target = resolve(args.resolveDir, args.path);
      return SERVER_ONLY.test(target) ? { path: args.path, external: true } : undefined;
    });
  },
};

// yaml's node entry is CommonJS, which esbuild cannot split into a lazily imported chunk with
// named exports; its ESM build (the same code) can be.
const yamlEsm = {
  name: 'capstan-yaml-esm',
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, () => ({ path: resolve(root, 'node_modules/yaml/browser/index.js') }));
  },
};

/** Builds <outdir>/capstan.mjs (+ capstan-chunks/, capstan.inputs); outdir must be inside the repository. */
export async function buildCli({ outdir = resolve(root, 'dist') } = {}) {
  const version = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')).version;
  rmSync(resolve(outdir, 'capstan-chunks'), { recursive: true, force: true });
  const result = await build({
    metafile: true,
    entryPoints: { capstan: CLI_ENTRY },
    outdir,
    chunkNames: 'capstan-chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node18',
    external: EXTERNAL_PACKAGES,
    plugins: [serverOnly, yamlEsm],
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    define: { __CAPSTAN_BUNDLE__: 'true', __CAPSTAN_VERSION__: JSON.stringify(version) },
    // CommonJS packages bundled into ESM may call require() for node built-ins.
    banner: { js: "import { createRequire as __capstanCreateRequire } from 'node:module'; const require = __capstanCreateRequire(import.meta.url);" },
  });
  const inputs = Object.keys(result.metafile.inputs)
    .map((p) => relative(root, resolve(root, p)))
    .filter((p) => p.startsWith('src/'));
  writeFileSync(resolve(outdir, 'capstan.inputs'), ['package.json', ...inputs].join('\n') + '\n');
  return resolve(outdir, 'capstan.mjs');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(`CLI bundle: ${await buildCli()}`);
}
