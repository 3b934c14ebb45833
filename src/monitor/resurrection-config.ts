// Resurrection rules from the director's `resurrection` configs (health-monitor.md A.6): an
// instance group is resurrectable only if every rule that applies to it is enabled.
import { createHash } from 'node:crypto';
import { parse } from 'yaml';

interface Filter {
  deployments?: string[];
  instance_groups?: string[];
}

interface Rule {
  enabled: boolean;
  include?: Filter;
  exclude?: Filter;
}

function matches(filter: Filter, deployment: string, group: string): boolean {
  const d = filter.deployments;
  const g = filter.instance_groups;
  return (!d || d.length === 0 || d.includes(deployment)) && (!g || g.length === 0 || g.includes(group));
}

function isRule(value: unknown): value is Rule {
  return typeof value === 'object' && value !== null && typeof (value as Rule).enabled === 'boolean';
}

export class ResurrectionRules {
  private rules: Rule[] = [];
  private digest = '';

  /** Parses config contents only when they changed (by SHA-256); returns whether they did. */
  update(contents: string[]): boolean {
    const digest = createHash('sha256').update(JSON.stringify(contents)).digest('hex');
    if (digest === this.digest) return false;
    const rules: Rule[] = [];
    for (const content of contents) {
      const doc = parse(content) as { rules?: unknown[] } | null;
      for (const rule of doc?.rules ?? []) if (isRule(rule)) rules.push(rule);
    }
    this.rules = rules;
    this.digest = digest;
    return true;
  }

  isEnabled(deployment: string, group: string): boolean {
    for (const rule of this.rules) {
      const included = rule.include ? matches(rule.include, deployment, group) : true;
      const excluded = rule.exclude ? matches(rule.exclude, deployment, group) : false;
      if (included && !excluded && !rule.enabled) return false;
    }
    return true;
  }
}
