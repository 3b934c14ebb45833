// `npm run bench -- <name> [args...]`: runs bench/<name>.ts, which prints its own figures.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [name, ...rest] = process.argv.slice(2);
const file = name ? join(dirname(fileURLToPath(import.meta.url)), `${name}.ts`) : '';
if (!name || !/^[a-z0-9-]+$/.test(name) || !existsSync(file)) {
  process.stderr.write(`usage: npm run bench -- <name> [args]   (bench/<name>.ts)\n`);
  process.exit(2);
}
process.argv = [process.argv[0]!, file, ...rest];
await import(pathToFileURL(file).href);
