// The agent's own log, <base>/bosh/log/current, in svlogd -tt style: every line prefixed with a UTC
// `YYYY-MM-DD_HH:MM:SS.xxxxx` stamp, rotated at 1 MiB keeping 10 old files (svlogd's defaults).
// Lines arrive already redacted: createLogger redacts before anything is written.
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const MAX_BYTES = 1024 * 1024;
const KEEP = 10;

export function svlogdTimestamp(date = new Date()): string {
  const iso = date.toISOString(); // 2026-11-21T12:16:27.123Z
  const micros = String(date.getUTCMilliseconds() * 100).padStart(5, '0');
  return `${iso.slice(0, 10)}_${iso.slice(11, 19)}.${micros}`;
}

export class SvlogdFile {
  private fd: number;
  private size: number;
  private readonly current: string;

  constructor(
    private readonly dir: string,
    private readonly echo?: NodeJS.WritableStream,
  ) {
    mkdirSync(dir, { recursive: true });
    this.current = join(dir, 'current');
    this.fd = openSync(this.current, 'a', 0o644);
    this.size = statSync(this.current).size;
  }

  /** pino destination interface: one call per log record. */
  write(line: string): boolean {
    this.echo?.write(line);
    const stamped = line
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => `${svlogdTimestamp()} ${l}\n`)
      .join('');
    const bytes = Buffer.from(stamped);
    if (this.size + bytes.length > MAX_BYTES && this.size > 0) this.rotate();
    writeSync(this.fd, bytes);
    this.size += bytes.length;
    return true;
  }

  private rotate(): void {
    closeSync(this.fd);
    // svlogd names finished files @<tai64n>.s; a sortable UTC stamp keeps the same ordering property.
    renameSync(this.current, join(this.dir, `@${svlogdTimestamp().replace(/[-_:.]/g, '')}.s`));
    const old = readdirSync(this.dir).filter((f) => f.startsWith('@')).sort();
    for (const file of old.slice(0, Math.max(0, old.length - KEEP))) rmSync(join(this.dir, file), { force: true });
    this.fd = openSync(this.current, 'a', 0o644);
    this.size = 0;
  }
}
