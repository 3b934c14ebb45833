#!/usr/bin/env node
// Bundles the Capstan agent (src/agent/main.ts) and all its dependencies into one CommonJS file that
// runs on the stemcell's Node (Debian bookworm ships Node 18): dist/capstan-agent.cjs.
// Usage: node scripts/build-agent.mjs [--entry <file.ts>] [--outfile <file.cjs>]
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_ENTRY = resolve(root, 'src/agent/main.ts');
export const DEFAULT_OUTFILE = resolve(root, 'dist/capstan-agent.cjs');

export async function buildAgent({ entry = DEFAULT_ENTRY, outfile = DEFAULT_OUTFILE } = {}) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    nodePaths: [resolve(root, 'node_modules')], // also resolve packages for entries outside the repo
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    // ESM sources may use import.meta.url; in a CJS bundle it must come from __filename.
    banner: { js: "const __capstan_import_meta_url = require('url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__capstan_import_meta_url' },
  });
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { entry: { type: 'string' }, outfile: { type: 'string' } } });
  const out = await buildAgent({
    entry: values.entry ? resolve(values.entry) : undefined,
    outfile: values.outfile ? resolve(values.outfile) : undefined,
  });
  console.log(`agent bundle: ${out}`);
}
