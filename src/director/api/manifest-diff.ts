// What `capstan manifest` and the deploy diff show (director-api.md §2.3): secret values redacted
// unless the caller asks `redact=false`. As BOSH does, every value below a `properties` or `env`
// key (job, instance-group and global properties; VM env such as env.bosh.password) is shown as
// `<redacted>`, keys stay visible. Values given with `-v`/`--var` are interpolated by the CLI into
// those places before the director sees them; generated variables are never in the manifest text.
import { isDeepStrictEqual } from 'node:util';
import { isScalar, parseDocument, stringify, visit, type Node } from 'yaml';
import { parseYaml } from '../../common/yaml.js';

export const REDACTED = '<redacted>';
const SECRET_KEYS = new Set(['properties', 'env']);

export type DiffLine = [string, 'added' | 'removed' | null];

/** The manifest text with secret values redacted; comments and layout stay as written. */
export function redactManifestText(text: string): string {
  const doc = parseDocument(text, { version: '1.1' });
  if (doc.errors.length > 0) return ''; // a stored manifest always parses; never show one that does not unredacted
  let redacted = false;
  visit(doc, {
    Pair(_, pair) {
      if (!isScalar(pair.key) || !SECRET_KEYS.has(String(pair.key.value))) return undefined;
      if (pair.value) redacted = redactNode(pair.value as Node) || redacted;
      return visit.SKIP;
    },
  });
  return redacted ? doc.toString({ lineWidth: 0, indentSeq: false }) : text;
}

function redactNode(node: Node): boolean {
  let changed = false;
  const redactScalar = (scalar: Node) => {
    if (!isScalar(scalar) || scalar.value === null) return;
    scalar.value = REDACTED;
    scalar.type = 'QUOTE_DOUBLE';
    changed = true;
  };
  if (isScalar(node)) redactScalar(node);
  else visit(node, { Scalar: (key, scalar) => (key === 'key' ? undefined : redactScalar(scalar)) });
  return changed;
}

/** Every scalar leaf replaced by `<redacted>` (null stays null: it tells nothing). */
function redactValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v)]));
  return value === null || value === undefined ? value : REDACTED;
}

/** Parses manifest text for a diff; empty text is an empty manifest. Throws YamlSyntaxError. */
export function manifestValue(text: string | null, file: string): Record<string, unknown> {
  if (!text || text.trim() === '') return {};
  const value = parseYaml(text, file).value;
  return isPlainObject(value) ? value : {};
}

/**
 * The lines that changed between two manifests, with their parent keys as context (state null),
 * the way `bosh deploy` shows them. Named list entries (instance groups, jobs, releases...) are
 * matched by `name`. A changed secret shows as a removed and an added `<redacted>` line.
 */
export function manifestDiff(before: Record<string, unknown>, after: Record<string, unknown>, redact: boolean): DiffLine[] {
  return new ManifestDiffer(redact).maps(before, after, 0, false);
}

class ManifestDiffer {
  constructor(private readonly redact: boolean) {}

  maps(before: Record<string, unknown>, after: Record<string, unknown>, indent: number, secret: boolean): DiffLine[] {
    const out: DiffLine[] = [];
    const keys = [...Object.keys(after), ...Object.keys(before).filter((k) => !(k in after))];
    for (const key of keys) {
      const inner = secret || (this.redact && SECRET_KEYS.has(key));
      const [old, now] = [before[key], after[key]];
      if (!(key in before)) out.push(...this.yaml({ [key]: now }, indent, 'added', inner));
      else if (!(key in after)) out.push(...this.yaml({ [key]: old }, indent, 'removed', inner));
      else if (isDeepStrictEqual(old, now)) continue;
      else if (isPlainObject(old) && isPlainObject(now)) out.push([`${pad(indent)}${key}:`, null], ...this.maps(old, now, indent + 2, inner));
      else if (Array.isArray(old) && Array.isArray(now)) out.push([`${pad(indent)}${key}:`, null], ...this.lists(old, now, indent, inner));
      else out.push(...this.yaml({ [key]: old }, indent, 'removed', inner), ...this.yaml({ [key]: now }, indent, 'added', inner));
    }
    return out;
  }

  private lists(before: unknown[], after: unknown[], indent: number, secret: boolean): DiffLine[] {
    const named = (items: unknown[]) => items.every((i) => isPlainObject(i) && typeof i.name === 'string');
    if (!named(before) || !named(after)) {
      const has = (items: unknown[], item: unknown) => items.some((i) => isDeepStrictEqual(i, item));
      return [
        ...before.filter((i) => !has(after, i)).flatMap((i) => this.yaml([i], indent, 'removed', secret)),
        ...after.filter((i) => !has(before, i)).flatMap((i) => this.yaml([i], indent, 'added', secret)),
      ];
    }
    const byName = (items: unknown[], name: unknown) => items.find((i) => (i as { name: string }).name === name) as Record<string, unknown> | undefined;
    const out: DiffLine[] = [];
    for (const item of after as Array<Record<string, unknown>>) {
      const old = byName(before, item.name);
      if (!old) out.push(...this.yaml([item], indent, 'added', secret));
      else if (!isDeepStrictEqual(old, item)) out.push([`${pad(indent)}- name: ${stringify(item.name).trimEnd()}`, null], ...this.maps(old, item, indent + 2, secret));
    }
    for (const item of before as Array<Record<string, unknown>>) {
      if (!byName(after, item.name)) out.push(...this.yaml([item], indent, 'removed', secret));
    }
    return out;
  }

  /** A whole subtree as YAML lines; below a secret key its values are redacted. */
  private yaml(value: unknown, indent: number, state: DiffLine[1], secret: boolean): DiffLine[] {
    const shown = this.redact ? redactKeys(value, secret) : value;
    const text = stringify(shown, { indentSeq: false, lineWidth: 0 }).trimEnd();
    return text.split('\n').map((line) => [`${pad(indent)}${line}`, state]);
  }
}

/** Redacts below secret keys; `secret` when value itself is already below one. */
function redactKeys(value: unknown, secret: boolean): unknown {
  if (secret) return redactValue(value);
  if (Array.isArray(value)) return value.map((v) => redactKeys(v, false));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactKeys(v, SECRET_KEYS.has(k))]));
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const pad = (n: number) => ' '.repeat(n);
