// ((variable)) interpolation of manifests and configs from -v name=value and --vars-file, as
// the bosh CLI does before sending them. Unknown variables stay for the director to resolve.
import { readFileSync } from 'node:fs';
import { parse, parseDocument, visit } from 'yaml';
import { CliError } from './context.js';

export type Vars = Record<string, unknown>;

/** Collects repeated -v flags. */
export function collectVar(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function loadVars(flags: string[] = [], files: string[] = []): Vars {
  const vars: Vars = {};
  for (const file of files) {
    const content = parse(readFileSync(file, 'utf8'), { version: '1.1' }) as unknown;
    if (content === null || content === undefined) continue;
    if (typeof content !== 'object' || Array.isArray(content)) throw new CliError(`Expected vars file '${file}' to be a YAML hash`);
    Object.assign(vars, content);
  }
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new CliError(`Expected var '${flag}' to be in format 'name=value'`);
    vars[flag.slice(0, eq)] = parse(flag.slice(eq + 1), { version: '1.1' }) ?? flag.slice(eq + 1);
  }
  return vars;
}

const WHOLE = /^\(\(([-\w.\/]+)\)\)$/;
const EMBEDDED = /\(\(([-\w.\/]+)\)\)/g;

function lookup(vars: Vars, name: string): unknown {
  return name.split('.').reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), vars);
}

export function interpolate(text: string, vars: Vars): string {
  if (Object.keys(vars).length === 0) return text;
  const doc = parseDocument(text, { version: '1.1' });
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string') return;
      const whole = WHOLE.exec(node.value);
      if (whole) {
        const value = lookup(vars, whole[1]);
        if (value === undefined) return;
        return doc.createNode(value);
      }
      if (!EMBEDDED.test(node.value)) return;
      node.value = node.value.replace(EMBEDDED, (m, name: string) => {
        const value = lookup(vars, name);
        return value === undefined ? m : String(value);
      });
    },
  });
  return doc.toString();
}
