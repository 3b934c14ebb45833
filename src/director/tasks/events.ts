// The task event log (director-api.md §4.3): one JSON object per line, the stream the CLI renders.
import type { EventLog, EventStage, EventStep } from '../context.js';
import { errorMessage, CapstanError } from '../../common/errors.js';

export type EventSink = (line: string) => void;

const unixNow = (): number => Math.floor(Date.now() / 1000);

interface StepEvent {
  stage: string;
  tags: string[];
  total: number | null;
  task: string;
  index: number;
  state: 'started' | 'in_progress' | 'finished' | 'failed';
  progress: number;
  data?: Record<string, unknown>;
}

export class TaskEventLog implements EventLog {
  constructor(private readonly sink: EventSink) {}

  beginStage(stage: string, total: number | null, tags: string[] = []): EventStage {
    return new TaskEventStage(stage, total, tags, (event) => this.emit(event));
  }

  warning(message: string): void {
    this.write({ time: unixNow(), type: 'warning', message });
  }

  /** The task-level error event written when a task fails. */
  error(err: unknown): void {
    const code = err instanceof CapstanError ? err.code : 100;
    this.write({ time: unixNow(), error: { code, message: errorMessage(err) } });
  }

  private emit(event: StepEvent): void {
    const { data, ...rest } = event;
    this.write({ time: unixNow(), ...rest, ...(data ? { data } : {}) });
  }

  private write(event: Record<string, unknown>): void {
    this.sink(`${JSON.stringify(event)}\n`);
  }
}

class TaskEventStage implements EventStage {
  private nextIndex = 1;

  constructor(
    private readonly stage: string,
    private readonly total: number | null,
    private readonly tags: string[],
    private readonly emit: (event: StepEvent) => void,
  ) {}

  async track<T>(task: string, fn: (step: EventStep) => Promise<T>): Promise<T> {
    const index = this.nextIndex++;
    const base = { stage: this.stage, tags: this.tags, total: this.total, task, index };
    this.emit({ ...base, state: 'started', progress: 0 });
    const step: EventStep = {
      status: (text) => this.emit({ ...base, state: 'in_progress', progress: 0, data: { status: text } }),
    };
    try {
      const result = await fn(step);
      this.emit({ ...base, state: 'finished', progress: 100 });
      return result;
    } catch (err) {
      this.emit({ ...base, state: 'failed', progress: 100, data: { error: errorMessage(err) } });
      throw err;
    }
  }
}
