// What the bosh CLI does to a manifest or config before sending it (and what `interpolate`
// prints): ops files applied (go-patch, src/manifest/ops.ts), then ((variables)) from -v,
// --var-file, -l/--vars-file and --vars-env substituted. Unknown variables stay for the
// director to resolve (unless --var-errs).
import { readFileSync } from 'node:fs';
import { parse, parseDocument, stringify, visit } from 'yaml';
import { applyOperations, findPath, parseOpsFile, parsePointer, type SourcedOperation } from '../manifest/ops.js';
import { CliError } from './context.js';
import { collectVar, type TemplateOptions, type VarSources } from './flags.js';
import { declaredVariables, updateVarsStore } from './vars-store.js';

export type { TemplateOptions, VarSources };

export type Vars = Record<string, unknown>;

export { collectVar };

/** Later sources win: vars files, then --vars-env, then --var-file, then -v (as bosh). */
export function loadVars(flags: string[] = [], files: string[] = [], more: Omit<VarSources, 'var' | 'varsFile'> = {}, env: NodeJS.ProcessEnv = process.env): Vars {
  const vars: Vars = {};
  for (const file of files) {
    const content = parse(readText(file, 'vars file'), { version: '1.1' }) as unknown;
    if (content === null || content === undefined) continue;
    if (typeof content !== 'object' || Array.isArray(content)) throw new CliError(`Expected vars file '${file}' to be a YAML hash`);
    Object.assign(vars, content);
  }
  for (const prefix of more.varsEnv ?? []) {
    for (const [key, value] of Object.entries(env)) {
      if (!key.startsWith(`${prefix}_`) || value === undefined) continue;
      vars[key.slice(prefix.length + 1)] = parse(value, { version: '1.1' }) ?? value;
    }
  }
  for (const flag of more.varFile ?? []) {
    const [name, path] = splitKv(flag, 'var file', 'name=path');
    vars[name] = readText(path, 'var file');
  }
  for (const flag of flags) {
    const [name, value] = splitKv(flag, 'var', 'name=value');
    vars[name] = parseVarValue(value);
  }
  return vars;
}

function splitKv(flag: string, what: string, format: string): [string, string] {
  const eq = flag.indexOf('=');
  if (eq <= 0) throw new CliError(`Expected ${what} '${flag}' to be in format '${format}'`);
  return [flag.slice(0, eq), flag.slice(eq + 1)];
}

function parseVarValue(value: string): unknown {
  try {
    return parse(value, { version: '1.1' }) ?? value;
  } catch {
    return value; // not YAML (e.g. `a: b: c`): the text itself
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`Reading ${what} '${path}': ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file does not exist' : (err as Error).message}`);
  }
}

// ((name)), ((name.key)), ((!name)) (the `!` only keeps YAML from reading it as a tag)
const NAME = String.raw`!?([-\w\p{L}\/.:]+)`;
const WHOLE = new RegExp(String.raw`^\(\(${NAME}\)\)$`, 'u');
const EMBEDDED = new RegExp(String.raw`\(\(${NAME}\)\)`, 'gu');

function lookup(vars: Vars, name: string): unknown {
  // absolute (/director/...) names are the director's
  if (name.startsWith('/')) return Object.hasOwn(vars, name) ? vars[name] : undefined;
  const [head, ...keys] = name.split('.');
  let value: unknown = Object.hasOwn(vars, head) ? vars[head] : undefined;
  for (const key of keys) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/** Text interpolation that keeps comments and layout (used when no ops file is given). */
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
      if (!new RegExp(EMBEDDED.source, 'u').test(node.value)) return;
      node.value = node.value.replace(EMBEDDED, (m, name: string) => {
        const value = lookup(vars, name);
        return value === undefined ? m : String(value);
      });
    },
  });
  return doc.toString();
}

/** Substitutes variables in a parsed document; records which were missing and which were used. */
export function interpolateValue(value: unknown, vars: Vars, missing = new Set<string>(), used = new Set<string>()): unknown {
  const resolve = (name: string): unknown => {
    const found = lookup(vars, name);
    if (found === undefined) missing.add(name.split('.')[0]);
    else used.add(name.split('.')[0]);
    return found;
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [walk(k) as string, walk(x)]));
    if (typeof v !== 'string') return v;
    const whole = WHOLE.exec(v);
    if (whole) {
      const found = resolve(whole[1]);
      return found === undefined ? v : walk(found);
    }
    return v.replace(EMBEDDED, (m, name: string) => {
      const found = resolve(name);
      if (found === undefined) return m;
      if (found !== null && typeof found === 'object') throw new CliError(`Expected variable '${name}' to be a string, number or boolean to embed it in '${v}'`);
      return String(found);
    });
  };
  return walk(value);
}

export function hasTemplateChanges(opts: TemplateOptions): boolean {
  return !!(opts.opsFile?.length || opts.var?.length || opts.varsFile?.length || opts.varFile?.length || opts.varsEnv?.length || opts.varErrs || opts.path || opts.varsStore);
}

/** Applies ops files then variables to a YAML text; the result is a plain value. */
export function evaluateTemplate(text: string, file: string, opts: TemplateOptions, env: NodeJS.ProcessEnv = process.env): unknown {
  let doc: unknown;
  try {
    doc = parse(text, { version: '1.1' });
  } catch (err) {
    throw new CliError(`Parsing '${file}': ${(err as Error).message.split('\n')[0]}`);
  }
  const ops: SourcedOperation[] = (opts.opsFile ?? []).flatMap((path) => parseOpsFile(readText(path, 'ops file'), path));
  doc = applyOperations(doc, ops);
  let vars = loadVars(opts.var, opts.varsFile, opts, env);
  // the store is the last place a variable is looked up (as bosh), and where missing ones are generated
  if (opts.varsStore) vars = { ...updateVarsStore(opts.varsStore, declaredVariables(doc), vars), ...vars };
  const missing = new Set<string>();
  const used = new Set<string>();
  doc = interpolateValue(doc, vars, missing, used);
  const errors: string[] = [];
  if (opts.varErrs && missing.size) errors.push(`Expected to find variables:\n${[...missing].sort().map((n) => `  - ${n}`).join('\n')}`);
  if (opts.varErrsUnused) {
    const unused = Object.keys(vars).filter((n) => !used.has(n));
    if (unused.length) errors.push(`Expected to use variables:\n${unused.sort().map((n) => `  - ${n}`).join('\n')}`);
  }
  if (errors.length) throw new CliError(errors.join('\n\n'));
  return opts.path ? findPath(doc, parsePointer(opts.path)) : doc;
}

/** YAML as `bosh int` prints it: keys sorted, sequences not indented under their key. */
export function toYaml(value: unknown): string {
  return stringify(value, { version: '1.1', sortMapEntries: true, indentSeq: false, lineWidth: 0 });
}

/** The text the CLI sends: the file unchanged when nothing applies, else the evaluated YAML. */
export function renderTemplate(text: string, file: string, opts: TemplateOptions): string {
  if (!hasTemplateChanges(opts)) return text;
  if (!opts.opsFile?.length && !opts.varErrs && !opts.varsEnv?.length && !opts.varFile?.length && !opts.varsStore) {
    return interpolate(text, loadVars(opts.var, opts.varsFile)); // keeps comments: nicer diffs
  }
  return toYaml(evaluateTemplate(text, file, opts));
}

