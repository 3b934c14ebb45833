// `((name))` placeholders (director-api.md §5.1 variables): a placeholder that is a whole value is
// replaced by the variable's value (any type); one inside a longer string by its text. `((name.key))`
// picks a key of a structured value (a certificate's `certificate`, `private_key`, `ca`). A leading
// `!` (`((!name))`) is accepted and ignored, as in BOSH.

const PLACEHOLDER = /\(\(\s*!?([-\w./:]+)\s*\)\)/g;
const WHOLE = /^\(\(\s*!?([-\w./:]+)\s*\)\)$/;

/** The variable a placeholder names: `cert.ca` -> `cert`. */
export const variableName = (reference: string): string => reference.split('.')[0];

/** Every placeholder reference (`name` or `name.key`) in a value, in order of appearance, once each. */
export function placeholders(value: unknown, skipKeys: string[] = []): string[] {
  const found = new Set<string>();
  const walk = (v: unknown, top: boolean) => {
    if (typeof v === 'string') for (const m of v.matchAll(PLACEHOLDER)) found.add(m[1]);
    else if (Array.isArray(v)) v.forEach((x) => walk(x, false));
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) if (!(top && skipKeys.includes(k))) walk(x, false);
    }
  };
  walk(value, true);
  return [...found];
}

/** Resolves `name` or `name.key` against the values; throws naming the reference when missing. */
function lookup(values: Record<string, unknown>, reference: string): unknown {
  const [name, ...keys] = reference.split('.');
  if (!(name in values)) throw new Error(`Failed to find variable '${name}'`);
  let current = values[name];
  for (const key of keys) {
    if (current === null || typeof current !== 'object' || !(key in current)) {
      throw new Error(`Failed to find variable '${name}': it has no key '${keys.join('.')}'`);
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** A copy of value with every placeholder replaced; top-level keys in skipKeys stay as they are. */
export function interpolate(value: unknown, values: Record<string, unknown>, skipKeys: string[] = []): unknown {
  const walk = (v: unknown, top: boolean): unknown => {
    if (typeof v === 'string') {
      const whole = WHOLE.exec(v);
      if (whole) return lookup(values, whole[1]);
      return v.replace(PLACEHOLDER, (_, ref: string) => {
        const found = lookup(values, ref);
        if (found !== null && typeof found === 'object') throw new Error(`Cannot interpolate the structured variable '${ref}' inside the string '${v}'`);
        return String(found);
      });
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, false));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, top && skipKeys.includes(k) ? x : walk(x, false)]));
    }
    return v;
  };
  return walk(value, true);
}
