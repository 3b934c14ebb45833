// `json`: every event as one JSON line on the stdin of each executable found under
// /var/vcap/jobs/*/bin/bosh-monitor/ (rescanned every rescan_interval seconds). A process that
// exits, whatever its status, is restarted after restart_delay. Buffers are bounded: when a
// process does not keep up, events for it are dropped (and counted) instead of piling up in
// memory; its stdout/stderr go to the log, truncated, never into a growing buffer.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { definePlugin } from './plugin.js';

/** Expands `*` within path segments (no `**`). */
export function expandGlob(pattern: string): string[] {
  const segments = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let paths = [segments[0] === '' ? '/' : segments[0]!];
  for (const segment of segments.slice(1)) {
    if (!segment.includes('*')) {
      paths = paths.map((p) => join(p, segment));
      continue;
    }
    const re = new RegExp('^' + segment.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
    paths = paths.flatMap((dir) => {
      try {
        return readdirSync(dir).filter((name) => re.test(name)).sort().map((name) => join(dir, name));
      } catch {
        return [];
      }
    });
  }
  return paths;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface Managed {
  child: ChildProcess | undefined;
  dropped: number;
}

export const jsonPlugin = definePlugin({
  options: z.object({
    glob: z.string().default('/var/vcap/jobs/*/bin/bosh-monitor/*'),
    rescan_interval: z.number().positive().default(60),
    restart_delay: z.number().nonnegative().default(1),
    max_buffer_bytes: z.number().int().positive().default(4 * 1024 * 1024),
  }),
  create(options, ctx) {
    const processes = new Map<string, Managed>();
    let scanTimer: NodeJS.Timeout | undefined;
    const restartTimers = new Set<NodeJS.Timeout>();
    let stopping = false;

    const log = (path: string, stream: string) => (chunk: Buffer) => {
      const text = chunk.toString('utf8', 0, Math.min(chunk.length, 2000)).trimEnd();
      if (text) ctx.logger.info(`json plugin ${path} ${stream}: ${text}`);
    };

    const start = (path: string, managed: Managed) => {
      const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'] });
      managed.child = child;
      child.stdout!.on('data', log(path, 'stdout'));
      child.stderr!.on('data', log(path, 'stderr'));
      child.stdin!.on('error', () => {}); // EPIPE when it exits; the exit handler restarts it
      child.on('error', (err) => ctx.logger.error(`json plugin: ${path} failed: ${err.message}`));
      child.on('close', (code, signal) => {
        managed.child = undefined;
        if (stopping) return;
        ctx.logger.warn(`json plugin: ${path} exited (${signal ?? code}); restarting`);
        const timer = setTimeout(() => {
          restartTimers.delete(timer);
          if (!stopping) start(path, managed);
        }, options.restart_delay * 1000);
        restartTimers.add(timer);
      });
    };

    const scan = () => {
      for (const path of expandGlob(options.glob)) {
        if (processes.has(path) || !isExecutableFile(path)) continue;
        const managed: Managed = { child: undefined, dropped: 0 };
        processes.set(path, managed);
        ctx.logger.info(`json plugin: starting ${path}`);
        start(path, managed);
      }
    };

    return {
      run() {
        scan();
        scanTimer = setInterval(scan, options.rescan_interval * 1000);
      },
      process(event) {
        let line: string | undefined;
        for (const [path, managed] of processes) {
          const stdin = managed.child?.stdin;
          if (!stdin || stdin.destroyed) continue;
          if (stdin.writableLength > options.max_buffer_bytes) {
            if (managed.dropped++ % 1000 === 0) ctx.logger.warn(`json plugin: ${path} is not keeping up; ${managed.dropped} event(s) dropped`);
            continue;
          }
          line ??= event.toJson() + '\n';
          stdin.write(line);
        }
      },
      async stop() {
        stopping = true;
        clearInterval(scanTimer);
        for (const t of restartTimers) clearTimeout(t);
        await Promise.all(
          [...processes.values()].map(({ child }) => {
            if (!child || child.exitCode !== null) return undefined;
            return new Promise<void>((resolve) => {
              child.once('close', () => resolve());
              child.stdin?.end();
              setTimeout(() => child.kill('SIGTERM'), 2000).unref();
            });
          }),
        );
      },
    };
  },
});
