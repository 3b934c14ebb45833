// YAML as BOSH reads it: YAML 1.1 rules (yes/no/on/off/y/n are booleans), with source positions so
// errors can name the line, and stringify with sorted keys (as `bosh int` prints).
import { Document, LineCounter, parseDocument, stringify, isMap, isSeq, isScalar, type Node } from 'yaml';

export type YamlPath = Array<string | number>;

export interface ParsedYaml {
  doc: Document.Parsed;
  lineCounter: LineCounter;
  value: unknown;
}

export class YamlSyntaxError extends Error {
  constructor(
    public readonly file: string,
    public readonly line: number | null,
    public readonly reason: string,
  ) {
    super(`${file}${line != null ? `:${line}` : ''}: ${reason}`);
    this.name = 'YamlSyntaxError';
  }
}

/** Parses one YAML 1.1 document; a syntax error throws YamlSyntaxError with the file and line. */
export function parseYaml(text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', lineCounter, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line ?? lineCounter.linePos(first.pos[0]).line;
    throw new YamlSyntaxError(file, line, `YAML syntax error: ${first.message.split('\n')[0]}`);
  }
  return { doc, lineCounter, value: toJsBounded(doc, file) };
}

/** Aliases expanding to too much (a "billion laughs" anchor bomb) are a clear error, found quickly. */
function toJsBounded(doc: Document.Parsed, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // unresolved aliases, bad merge keys, excessive alias expansion: all mistakes (or attacks) in the YAML
    const message = err instanceof Error ? err.message : String(err);
    if (/excessive alias count/i.test(message)) throw new YamlSyntaxError(file, null, `YAML aliases expand too much (anchor bomb?): ${message}`);
    throw new YamlSyntaxError(file, null, `YAML error: ${message}`);
  }
}

/**
 * The 1-based line of the node at `path`; for a mapping key, the line of the key. When the path does
 * not exist, the line of the deepest part that does (a missing key reports its parent mapping).
 */
export function lineOf(parsed: ParsedYaml, path: YamlPath): number | null {
  let node: unknown = parsed.doc.contents;
  let offset: number | undefined = startOf(node);
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
      if (!pair) break;
      offset = startOf(pair.key) ?? startOf(pair.value) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      node = node.items[segment];
      offset = startOf(node) ?? offset;
    } else {
      break;
    }
  }
  return offset == null ? null : parsed.lineCounter.linePos(offset).line;
}

function startOf(node: unknown): number | undefined {
  return (node as Node | null)?.range?.[0];
}

/** Formats a path as `instance_groups[2].jobs[0].release`. */
export function formatPath(path: YamlPath): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** YAML text with mapping keys sorted; strings that YAML 1.1 would read as booleans stay quoted. */
export function stringifyYaml(value: unknown): string {
  return stringify(value, { version: '1.1', sortMapEntries: true, lineWidth: 0 });
}
