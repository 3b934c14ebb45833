// bosh-style tables: every column padded to its widest cell plus a two-space border, cells
// with several lines (IPs) wrap onto extra rows, empty cells print '-', a footer `N <content>`.
export interface Table {
  /** What the rows are ("vms", "stemcells"); printed in the footer and in --json as Content. */
  content: string;
  title?: string;
  header: string[];
  /** Cell values; string[] cells print one value per line. */
  rows: Array<Array<string | string[]>>;
  notes?: string[];
  /** Print as `Header  value` pairs, one block per row (bosh's transposed tables). */
  transpose?: boolean;
}

const cellText = (cell: string | string[]) => (Array.isArray(cell) ? cell.join('\n') : cell);

// null rows are separators (an empty line between transposed records).
function writeGrid(lines: Array<string[] | null>): string {
  const grid: Array<string[] | null> = [];
  for (const row of lines) {
    if (row === null) {
      grid.push(null);
      continue;
    }
    const split = row.map((cell) => (cell === '' ? ['-'] : cell.replace(/\r/g, '').split('\n')));
    const height = Math.max(1, ...split.map((c) => c.length));
    for (let i = 0; i < height; i++) grid.push(split.map((c) => c[i] ?? ''));
  }
  const widths: number[] = [];
  for (const row of grid) row?.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return grid.map((row) => (row ? row.map((cell, i) => cell.padEnd(widths[i]) + '  ').join('') : '') + '\n').join('');
}

export function renderTable(table: Table): string {
  let out = table.title ? `${table.title}\n\n` : '';
  const rows = table.rows.map((r) => r.map(cellText));
  if (table.transpose) {
    const pairs: Array<string[] | null> = [];
    rows.forEach((row, i) => {
      row.forEach((cell, j) => pairs.push([table.header[j], cell]));
      if (i < rows.length - 1) pairs.push(null);
    });
    out += writeGrid(pairs);
  } else {
    out += writeGrid([table.header, ...rows]);
  }
  if (table.notes?.length) out += '\n' + table.notes.map((n) => `${n}\n`).join('');
  if (table.content.trim() !== '') out += `\n${rows.length} ${table.content}\n`;
  return out;
}

/** bosh's JSON key for a header: lower-case letters and digits, other runs become '_'. */
export function headerKey(title: string): string {
  return title
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .join('_');
}

export interface JsonTable {
  Content: string;
  Header: Record<string, string>;
  Rows: Array<Record<string, string>>;
  Notes: string[] | null;
}

export function tableToJson(table: Table): JsonTable {
  const keys = table.header.map(headerKey);
  return {
    Content: table.content,
    Header: Object.fromEntries(table.header.map((h, i) => [keys[i], h])),
    Rows: table.rows.map((row) => Object.fromEntries(row.map((cell, i) => [keys[i], cellText(cell)]))),
    Notes: table.notes?.length ? table.notes : null,
  };
}
