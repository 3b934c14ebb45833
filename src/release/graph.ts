// Package dependency graphs: every dependency known, no cycles.
import { ReleaseError } from './errors.js';

export interface PackageNode {
  name: string;
  dependencies: string[];
}

export function checkDependencyGraph(packages: PackageNode[], unknown: (pkg: string, dep: string) => Error): void {
  const byName = new Map(packages.map((p) => [p.name, p]));
  for (const p of packages) for (const dep of p.dependencies) if (!byName.has(dep)) throw unknown(p.name, dep);
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new ReleaseError(`Package dependency cycle: ${[...trail, name].join(' -> ')}`);
    state.set(name, 'visiting');
    for (const dep of byName.get(name)!.dependencies) visit(dep, [...trail, name]);
    state.set(name, 'done');
  };
  for (const p of packages) visit(p.name, []);
}
