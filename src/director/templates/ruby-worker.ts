// A long-lived Ruby process (renderer.rb) that renders ERB templates, spoken to over stdin/stdout
// with one JSON object per line. One process serves every task: starting Ruby per template is slow.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const RENDERER_SCRIPT = fileURLToPath(new URL('./renderer.rb', import.meta.url));

export interface RenderRequest {
  /** File name used in error messages, e.g. `nginx.conf.erb`. */
  file: string;
  template: string;
  /** The evaluation spec (director-api.md §7.2); `properties` holds the job's filtered properties. */
  spec: Record<string, unknown>;
}

interface Pending {
  resolve(output: string): void;
  reject(err: Error): void;
}

export class RubyTemplateWorker {
  private child: ChildProcessWithoutNullStreams | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly rubyPath = process.env.CAPSTAN_RUBY ?? 'ruby') {}

  /** Renders one template; rejects with `Error filling in template '<file>' (line N: <msg>)`. */
  render(request: RenderRequest): Promise<string> {
    const child = this.ensureStarted();
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.setReferenced(true);
      child.stdin.write(JSON.stringify({ id, ...request }) + '\n');
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.setReferenced(true); // keep the event loop alive until Ruby has exited
    this.child = null;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end();
    await exited;
  }

  private ensureStarted(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn(this.rubyPath, [RENDERER_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => undefined); // a dead worker is reported by the 'exit' handler
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.on('error', (err) => this.failAll(new Error(`Template renderer could not start: ${err.message}`)));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      this.failAll(new Error(`Template renderer exited (${signal ?? code}): ${stderr.trim()}`));
    });
    this.child = child;
    return child;
  }

  private onLine(line: string): void {
    let message: { id: number; output?: string; error?: string };
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (this.pending.size === 0) this.setReferenced(false);
    if (message.error !== undefined) waiter.reject(new Error(message.error));
    else waiter.resolve(message.output ?? '');
  }

  private failAll(err: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }

  /** An idle worker must not keep the director (or a test) process alive. */
  private setReferenced(referenced: boolean): void {
    const child = this.child;
    if (!child) return;
    const handles = [child, child.stdin, child.stdout, child.stderr] as Array<{ ref?: () => void; unref?: () => void }>;
    for (const handle of handles) (referenced ? handle.ref : handle.unref)?.call(handle);
  }
}

let shared: RubyTemplateWorker | null = null;

/** The process-wide worker, started on first use. */
export function sharedTemplateWorker(): RubyTemplateWorker {
  shared ??= new RubyTemplateWorker();
  return shared;
}
