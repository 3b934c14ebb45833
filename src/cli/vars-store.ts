// --vars-store <file> (bosh's vars store): a YAML file of variable values, read as a vars file; the
// variables the manifest declares (`variables:` with type password, certificate, ssh, rsa, user) that
// no vars source gives are generated once and saved there, so later runs get the same values.
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { generateValue, generationOrder } from '../common/variable-generators.js';
import type { ManifestVariable } from '../manifest/types.js';
import { CliError } from './context.js';

/** The `variables:` section of an evaluated (ops applied) manifest. */
export function declaredVariables(doc: unknown): ManifestVariable[] {
  const section = doc && typeof doc === 'object' ? (doc as { variables?: unknown }).variables : undefined;
  if (section === undefined || section === null) return [];
  if (!Array.isArray(section)) throw new CliError("Expected 'variables' to be a list of {name, type, options}");
  return section.map((v, i) => {
    if (!v || typeof v !== 'object' || typeof (v as ManifestVariable).name !== 'string' || typeof (v as ManifestVariable).type !== 'string') {
      throw new CliError(`Expected variables[${i}] to have a name and a type`);
    }
    return v as ManifestVariable;
  });
}

function readStore(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  let content: unknown;
  try {
    content = parse(readFileSync(path, 'utf8'), { version: '1.1' });
  } catch (err) {
    throw new CliError(`Parsing vars store '${path}': ${(err as Error).message.split('\n')[0]}`);
  }
  if (content === null || content === undefined) return {};
  if (typeof content !== 'object' || Array.isArray(content)) throw new CliError(`Expected vars store '${path}' to be a YAML hash`);
  return content as Record<string, unknown>;
}

/**
 * Returns the store's values after generating the declared variables that neither the store nor
 * `given` (the other vars sources) has; writes the file (mode 0600, it holds secrets) when it changed.
 */
export function updateVarsStore(path: string, declared: ManifestVariable[], given: Record<string, unknown>): Record<string, unknown> {
  const store = readStore(path);
  let changed = !existsSync(path);
  for (const variable of generationOrder(declared)) {
    if (Object.hasOwn(given, variable.name) || Object.hasOwn(store, variable.name)) continue;
    try {
      store[variable.name] = generateValue(variable, { ...store, ...given });
    } catch (err) {
      throw new CliError(`Generating variable '${variable.name}': ${(err as Error).message}`);
    }
    changed = true;
  }
  if (changed) {
    const temp = `${path}.tmp-${process.pid}`;
    writeFileSync(temp, stringify(store, { version: '1.1', indentSeq: false, lineWidth: 0 }), { mode: 0o600 });
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  }
  return store;
}
