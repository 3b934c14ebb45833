// Renders a task's output the way the bosh CLI does (director-api.md §4.3):
//   Task 7 | 12:01:02 | Compiling packages: nginx/<fingerprint> (00:00:41)
// A `started` line is completed in place by its `finished` (or `failed`) event when nothing
// else was printed in between; otherwise the finish gets a line of its own. Event output
// arrives in arbitrary chunks, so partial lines are buffered until their newline.
import type { TaskReporter } from '../director-client.js';
import type { Ui } from '../ui.js';
import { formatDuration, formatHours, formatUnixDate } from './time.js';

export interface TaskEvent {
  time: number;
  stage?: string;
  tags?: string[];
  total?: number | null;
  task?: string;
  index?: number;
  state?: 'started' | 'in_progress' | 'finished' | 'failed';
  progress?: number;
  data?: { error?: string; status?: string };
  error?: { code: number; message: string };
  type?: 'warning' | 'deprecation';
  message?: string;
}

interface KeptEvent {
  taskId: number;
  event: TaskEvent;
}

type Marker = { taskId: number; kind: 'started' | 'output' | 'ended' };

export class TaskEventReporter implements TaskReporter {
  private readonly markers: Marker[] = [];
  private readonly events = new Map<number, KeptEvent[]>();
  private readonly partial = new Map<number, Buffer>();
  /** The last event worth keeping (or the start of the newest task), and whether its line is still open. */
  private lastGlobal: { taskId: number; event?: TaskEvent } | undefined;
  private lineOpen = false;

  /** mode 'events': JSON event lines; 'raw': debug/result/cpi output printed as it comes. */
  constructor(
    private readonly ui: Ui,
    private readonly mode: 'events' | 'raw' = 'events',
  ) {}

  taskStarted(id: number): void {
    if (this.markers.length > 0) this.ui.endLine('');
    this.markers.push({ taskId: id, kind: 'started' });
    this.events.set(id, []);
    this.lastGlobal = { taskId: id };
    this.lineOpen = false;
    this.ui.beginLine(`Task ${id}`);
  }

  taskOutputChunk(id: number, chunk: Buffer): void {
    if (this.noOutputSinceStarted(id)) {
      this.ui.beginLine('\n');
      if (this.mode === 'raw') this.ui.beginLine('\n');
    }
    if (this.mode === 'raw') {
      this.ui.printBlock(chunk.toString('utf8'));
    } else {
      let rest = Buffer.concat([this.partial.get(id) ?? Buffer.alloc(0), chunk]);
      for (let nl = rest.indexOf(0x0a); nl !== -1; nl = rest.indexOf(0x0a)) {
        const line = rest.subarray(0, nl).toString('utf8');
        rest = rest.subarray(nl + 1);
        if (line.length > 0) this.showEvent(id, line);
      }
      this.partial.set(id, rest);
    }
    this.markers.push({ taskId: id, kind: 'output' });
  }

  taskFinished(id: number, state: string): void {
    const kept = this.events.get(id) ?? [];
    if (kept.length > 0) {
      const first = kept[0].event;
      const last = kept[kept.length - 1].event;
      this.ui.beginLine(
        `\n\nTask ${id} Started  ${formatUnixDate(first.time)}\nTask ${id} Finished ${formatUnixDate(last.time)}\nTask ${id} Duration ${formatDuration(last.time - first.time)}`,
      );
    }
    if (this.noOutputSinceStarted(id)) this.ui.endLine(`. ${state.charAt(0).toUpperCase()}${state.slice(1)}`);
    else this.ui.beginLine(`\nTask ${id} ${state}\n`);
    this.markers.push({ taskId: id, kind: 'ended' });
  }

  private showEvent(id: number, line: string): void {
    let event: TaskEvent;
    try {
      event = JSON.parse(line) as TaskEvent;
    } catch {
      throw new Error(`Task ${id} event output has a line that is not JSON: '${line}'`);
    }
    const kept = this.events.get(id) ?? [];
    const start = kept.find((k) => isSame(k, { taskId: id, event }));
    const duration = start ? formatDuration(event.time - start.event.time) : '';
    const errorLine = () => `\n     ${' '.repeat(goRuneLength(id))}             L Error: ${event.data?.error ?? ''}`;
    const worthKeeping = event.state !== 'in_progress';

    const continuesLine =
      worthKeeping && this.lineOpen && this.lastGlobal?.event && isSame({ taskId: this.lastGlobal.taskId, event: this.lastGlobal.event }, { taskId: id, event });
    if (continuesLine) {
      if (event.state === 'finished' || event.state === 'failed') this.ui.printBlock(` (${duration})`);
      if (event.state === 'failed') this.ui.printErrorBlock(errorLine());
    } else {
      if (this.lastGlobal && this.lastGlobal.taskId !== id && worthKeeping && (event.type === 'deprecation' || event.error)) {
        this.ui.printBlock('\n'); // spacing around deprecations and errors of another task
      }
      const prefix = `\nTask ${id} | ${formatHours(event.time)} | `;
      const desc = (event.stage ?? '') + (event.tags?.length ? ' ' + event.tags.join(', ') : '');
      if (event.type === 'deprecation') {
        this.ui.printBlock(prefix);
        this.ui.printErrorBlock(`Deprecation: ${event.message ?? ''}`);
      } else if (event.type === 'warning') {
        this.ui.printBlock(prefix);
        this.ui.printErrorBlock(`Warning: ${event.message ?? ''}`);
      } else if (event.state === 'started') {
        this.ui.printBlock(prefix);
        this.ui.printBlock(`${desc}: ${event.task ?? ''}`);
      } else if (event.state === 'finished' || event.state === 'failed') {
        this.ui.printBlock(prefix);
        this.ui.printBlock(`${desc}: ${event.task ?? ''} (${duration})`);
        if (event.state === 'failed') this.ui.printErrorBlock(errorLine());
      } else if (event.state === 'in_progress') {
        if (event.data?.status) {
          this.ui.printBlock(prefix);
          this.ui.printBlock(`L ${event.data.status}: ${event.task ?? ''}`);
          this.lineOpen = false;
        }
      } else if (event.error) {
        this.ui.printBlock(prefix);
        this.ui.printErrorBlock(`Error: ${event.error.message}`);
      }
    }
    if (worthKeeping) {
      kept.push({ taskId: id, event });
      this.events.set(id, kept);
      this.lastGlobal = { taskId: id, event };
      this.lineOpen = true;
    }
  }

  private noOutputSinceStarted(id: number): boolean {
    const last = this.markers[this.markers.length - 1];
    return last === undefined || (last.taskId === id && last.kind === 'started');
  }
}

function isSame(a: KeptEvent, b: KeptEvent): boolean {
  const ea = a.event;
  const eb = b.event;
  return (
    a.taskId === b.taskId &&
    !!ea.stage &&
    ea.stage === eb.stage &&
    ea.task === eb.task &&
    JSON.stringify(ea.tags ?? []) === JSON.stringify(eb.tags ?? [])
  );
}

// The bosh CLI indents the error line by the UTF-8 length of the task id taken as a code
// point (a Go string(int) conversion); reproduced so the columns match its output exactly.
function goRuneLength(id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 0x10ffff || (id >= 0xd800 && id <= 0xdfff)) return 3;
  return Buffer.byteLength(String.fromCodePoint(id), 'utf8');
}
