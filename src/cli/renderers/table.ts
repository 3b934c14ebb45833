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
  /** Columns the rows are sorted by (an index sorts ascending as text), unless --no-sort. */
  sortBy?: Array<number | ColumnSort>;
}

export interface ColumnSort {
  column: number;
  desc?: boolean;
  /** compare the leading integer of the cells (IDs) */
  numeric?: boolean;
}

function compareCells(a: string, b: string, sort: ColumnSort): number {
  const order = sort.numeric ? parseInt(a, 10) - parseInt(b, 10) : a < b ? -1 : a > b ? 1 : 0;
  return sort.desc ? -order : order;
}

/** --column (show only these columns, by title or JSON key) and --sort/--no-sort. */
export interface TableOptions {
  columns?: string[];
  sort?: boolean;
  /** ANSI colours (only for a terminal) */
  color?: boolean;
}

/** The table as it is shown: rows sorted (unless --no-sort), only the --column columns. */
export function shapeTable(table: Table, opts: TableOptions = {}): Table {
  let rows = table.rows;
  if (opts.sort !== false && table.sortBy?.length) {
    const by = table.sortBy.map((s) => (typeof s === 'number' ? { column: s } : s));
    rows = [...rows].sort((a, b) => {
      for (const sort of by) {
        const order = compareCells(cellText(a[sort.column] ?? ''), cellText(b[sort.column] ?? ''), sort);
        if (order !== 0) return order;
      }
      return 0;
    });
  }
  if (!opts.columns?.length) return { ...table, rows };
  const wanted = opts.columns.map((c) => {
    const i = table.header.findIndex((h) => h.toLowerCase() === c.toLowerCase() || headerKey(h) === headerKey(c));
    if (i === -1) throw new Error(`Expected column '${c}' to be one of: ${table.header.map((h) => `'${h}'`).join(', ')}`);
    return i;
  });
  return { ...table, header: wanted.map((i) => table.header[i]), rows: rows.map((r) => wanted.map((i) => r[i] ?? '')) };
}

const cellText = (cell: string | string[]) => (Array.isArray(cell) ? cell.join('\n') : cell);

/** An ANSI colour code for a cell (row index into the lines given to writeGrid, column). */
type Paint = (row: number, column: number) => string | undefined;

// null rows are separators (an empty line between transposed records).
function writeGrid(lines: Array<string[] | null>, paint: Paint = () => undefined): string {
  const grid: Array<{ cells: string[]; source: number } | null> = [];
  lines.forEach((row, source) => {
    if (row === null) {
      grid.push(null);
      return;
    }
    const split = row.map((cell) => (cell === '' ? ['-'] : cell.replace(/\r/g, '').split('\n')));
    const height = Math.max(1, ...split.map((c) => c.length));
    for (let i = 0; i < height; i++) grid.push({ cells: split.map((c) => c[i] ?? ''), source });
  });
  const widths: number[] = [];
  for (const row of grid) row?.cells.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const cellOut = (cell: string, i: number, source: number) => {
    const padded = cell.padEnd(widths[i]);
    const code = cell.trim() ? paint(source, i) : undefined;
    return (code ? `\x1b[${code}m${padded}\x1b[0m` : padded) + '  ';
  };
  return grid.map((row) => (row ? row.cells.map((cell, i) => cellOut(cell, i, row.source)).join('') : '') + '\n').join('');
}

// On a terminal (TableOptions.color), states that need attention print in red, as bosh does.
const STATE_COLUMNS = new Set(['Process State', 'State']);
const GOOD_STATES = new Set(['running', 'started', 'done', 'processing', 'queued', '-']);

export function renderTable(input: Table, opts: TableOptions = {}): string {
  const table = shapeTable(input, opts);
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
    const paint: Paint = (row, column) =>
      opts.color && row > 0 && STATE_COLUMNS.has(table.header[column]) && !GOOD_STATES.has(rows[row - 1][column].trim()) ? '31' : undefined;
    out += writeGrid([table.header, ...rows], paint);
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

export function tableToJson(input: Table, opts: TableOptions = {}): JsonTable {
  const table = shapeTable(input, opts);
  const keys = table.header.map(headerKey);
  return {
    Content: table.content,
    Header: Object.fromEntries(table.header.map((h, i) => [keys[i], h])),
    Rows: table.rows.map((row) => Object.fromEntries(row.map((cell, i) => [keys[i], cellText(cell)]))),
    Notes: table.notes?.length ? table.notes : null,
  };
}
