// Output of the CLI, shaped like bosh's UI: lines, raw blocks (task output) and tables. The
// text UI puts a blank line between unrelated outputs (bosh's padding rule); the JSON UI
// collects everything into one `{Tables, Blocks, Lines}` document printed at the end.
import { renderTable, tableToJson, type JsonTable, type Table, type TableOptions } from './renderers/table.js';

export interface Ui {
  /** A whole line, padded from previous unrelated output by a blank line. */
  printLine(text: string): void;
  /** An error line (stderr in the text UI). */
  errorLine(text: string): void;
  /** Raw text without a trailing newline (task output). */
  beginLine(text: string): void;
  /** Raw text followed by a newline. */
  endLine(text: string): void;
  printBlock(text: string): void;
  printErrorBlock(text: string): void;
  printTable(table: Table): void;
  flush(): void;
}

interface Writer {
  write(text: string): unknown;
}

type Mode = 'none' | 'raw' | 'auto';

export class TextUi implements Ui {
  private prev: Mode = 'none';

  constructor(
    private readonly out: Writer = process.stdout,
    private readonly err: Writer = process.stderr,
    private readonly tableOptions: TableOptions = {},
  ) {}

  private pad(mode: Mode, stream: Writer = this.out): void {
    if (this.prev !== 'none' && !(this.prev === 'raw' && mode === 'raw')) stream.write('\n');
    this.prev = mode;
  }

  printLine(text: string): void {
    this.pad('auto');
    this.out.write(text + '\n');
  }
  errorLine(text: string): void {
    this.pad('auto', this.err);
    this.err.write(text + '\n');
  }
  beginLine(text: string): void {
    this.pad('raw');
    this.out.write(text);
  }
  endLine(text: string): void {
    this.pad('raw');
    this.out.write(text + '\n');
  }
  printBlock(text: string): void {
    this.pad('raw');
    this.out.write(text);
  }
  printErrorBlock(text: string): void {
    this.pad('raw');
    this.out.write(text);
  }
  printTable(table: Table): void {
    this.pad('auto');
    this.out.write(renderTable(table, this.tableOptions));
  }
  flush(): void {}
}

export class JsonUi implements Ui {
  private readonly tables: JsonTable[] = [];
  private readonly blocks: string[] = [];
  private readonly lines: string[] = [];

  constructor(
    private readonly out: Writer = process.stdout,
    private readonly tableOptions: TableOptions = {},
  ) {}

  printLine(text: string): void {
    this.lines.push(text);
  }
  errorLine(text: string): void {
    this.lines.push(text);
  }
  beginLine(text: string): void {
    this.lines.push(text);
  }
  endLine(text: string): void {
    this.lines.push(text);
  }
  printBlock(text: string): void {
    this.blocks.push(text);
  }
  printErrorBlock(text: string): void {
    this.blocks.push(text);
  }
  printTable(table: Table): void {
    this.tables.push(tableToJson(table, this.tableOptions));
  }
  flush(): void {
    if (!this.tables.length && !this.blocks.length && !this.lines.length) return;
    const doc = {
      Tables: this.tables.length ? this.tables : null,
      Blocks: this.blocks.length ? this.blocks : null,
      Lines: this.lines.length ? this.lines : null,
    };
    this.out.write(JSON.stringify(doc, sortedKeys, 4) + '\n');
  }
}

// Go marshals map keys sorted; struct fields (Tables/Blocks/Lines, Content/Header/...) keep order.
function sortedKeys(this: unknown, key: string, value: unknown): unknown {
  if ((key === 'Header' || /^\d+$/.test(key)) && value && typeof value === 'object' && !Array.isArray(value) && !('Content' in value)) {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return value;
}
