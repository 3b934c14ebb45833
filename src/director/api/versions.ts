// Release-version ordering as BOSH shows it: dot-separated segments compared numerically when both
// are numbers, a `+dev.N` suffix sorting after its base (1 < 1+dev.1 < 1.1).
export function compareReleaseVersions(a: string, b: string): number {
  const [aBase, aSuffix = ''] = a.split('+', 2);
  const [bBase, bSuffix = ''] = b.split('+', 2);
  return compareSegments(aBase, bBase) || compareSegments(aSuffix, bSuffix);
}

function compareSegments(a: string, b: string): number {
  const left = a ? a.split(/[.-]/) : [];
  const right = b ? b.split(/[.-]/) : [];
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] === undefined) return -1;
    if (right[i] === undefined) return 1;
    const [x, y] = [Number(left[i]), Number(right[i])];
    const order = Number.isInteger(x) && Number.isInteger(y) ? x - y : left[i].localeCompare(right[i]);
    if (order !== 0) return Math.sign(order);
  }
  return 0;
}
