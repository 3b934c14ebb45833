// Turns a zod schema failure on parsed YAML into a ManifestError naming file, path and line.
import { z } from 'zod';
import { parseYaml, lineOf, formatPath, YamlSyntaxError, type ParsedYaml, type YamlPath } from '../common/yaml.js';
import { ManifestError } from './types.js';

/** Parses YAML text whose top level must be a mapping; syntax errors become ManifestErrors. */
export function parseYamlMapping(text: string, file: string): ParsedYaml {
  let parsed: ParsedYaml;
  try {
    parsed = parseYaml(text, file);
  } catch (err) {
    if (err instanceof YamlSyntaxError) throw new ManifestError(file, '', err.line, err.reason);
    throw err;
  }
  const value = parsed.value;
  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ManifestError(file, '', lineOf(parsed, []) ?? 1, 'Expected a YAML mapping at the top level');
  }
  return parsed;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string '${value}'`;
  return `${typeof value} ${String(value)}`;
}

function valueAt(root: unknown, path: YamlPath): unknown {
  let node = root;
  for (const segment of path) {
    if (node == null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

function reasonFor(issue: z.core.$ZodIssue, root: unknown): string {
  const actual = valueAt(root, issue.path as YamlPath);
  const key = issue.path[issue.path.length - 1];
  if (actual === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) {
    return `Required property '${String(key)}' was not specified`;
  }
  if (issue.code === 'invalid_type') return `Expected ${issue.expected}, got ${describe(actual)}`;
  if (issue.code === 'invalid_union' || issue.code === 'invalid_value' || issue.code === 'custom') {
    return `${issue.message} (got ${describe(actual)})`;
  }
  return issue.message;
}

/** Validates parsed YAML against a schema, throwing a ManifestError for the first issue. */
export function validateAt<S extends z.ZodType>(schema: S, parsed: ParsedYaml, file: string): z.output<S> {
  const result = schema.safeParse(parsed.value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue.path as YamlPath;
  throw new ManifestError(file, formatPath(path), lineOf(parsed, path), reasonFor(issue, parsed.value));
}

/** A ManifestError for a semantic problem found after schema validation. */
export function errorAt(parsed: ParsedYaml, file: string, path: YamlPath, reason: string): ManifestError {
  return new ManifestError(file, formatPath(path), lineOf(parsed, path), reason);
}
