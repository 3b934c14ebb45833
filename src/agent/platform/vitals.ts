// Vitals for heartbeats and get_state "full" (§3.1), read from /proc and statfs.
import { readFile, statfs } from 'node:fs/promises';
import type { Vitals } from '../../common/protocol.js';
import type { VcapPaths } from './paths.js';

interface CpuTimes {
  user: number;
  sys: number;
  wait: number;
  total: number;
}

async function readCpuTimes(): Promise<CpuTimes> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
  const [user, nice, sys, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const total = [user, nice, sys, idle, iowait, irq, softirq, steal].reduce((a, b) => a + (b || 0), 0);
  // "user" includes nice, as bosh-agent reports it.
  return { user: user + nice, sys, wait: iowait, total };
}

/** CPU percentages over a 10 s sampling loop; the first reading compares against agent start. */
export class CpuSampler {
  private previous?: CpuTimes;
  private latest = { user: '0.0', sys: '0.0', wait: '0.0' };
  private timer?: NodeJS.Timeout;

  async start(intervalMs = 10_000): Promise<void> {
    this.previous = await readCpuTimes();
    this.timer = setInterval(() => void this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async current(): Promise<Vitals['cpu']> {
    if (!this.timer) await this.sample();
    return this.latest;
  }

  private async sample(): Promise<void> {
    const now = await readCpuTimes().catch(() => undefined);
    if (!now) return;
    const prev = this.previous ?? now;
    const dt = now.total - prev.total;
    const pct = (v: number) => (dt > 0 ? ((v * 100) / dt).toFixed(1) : '0.0');
    this.latest = { user: pct(now.user - prev.user), sys: pct(now.sys - prev.sys), wait: pct(now.wait - prev.wait) };
    this.previous = now;
  }
}

function meminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

function usage(usedKb: number, totalKb: number): { kb: string; percent: string } {
  return { kb: String(usedKb), percent: totalKb > 0 ? ((usedKb * 100) / totalKb).toFixed(0) : '0' };
}

async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/mounts', 'utf8').catch(() => '');
  return new Set(text.split('\n').map((l) => l.split(' ')[1]).filter(Boolean));
}

async function diskUsage(path: string): Promise<{ percent: string; inode_percent: string }> {
  const s = await statfs(path);
  const used = s.blocks - s.bfree;
  const percentOf = (part: number, whole: number) => (whole > 0 ? ((part * 100) / whole).toFixed(0) : '0');
  return { percent: percentOf(used, used + s.bavail), inode_percent: percentOf(s.files - s.ffree, s.files) };
}

export async function collectVitals(paths: VcapPaths, cpu: CpuSampler): Promise<Vitals> {
  const mem = meminfo(await readFile('/proc/meminfo', 'utf8'));
  const memUsed = mem.MemTotal - mem.MemFree - (mem.Buffers ?? 0) - (mem.Cached ?? 0);
  const load = (await readFile('/proc/loadavg', 'utf8')).trim().split(/\s+/).slice(0, 3).map((v) => Number(v).toFixed(2));
  const uptime = Math.floor(Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]));
  const mounts = await mountPoints();
  const disk: NonNullable<Vitals['disk']> = {};
  const candidates: Array<[string, string]> = [
    ['system', '/'],
    ['ephemeral', paths.data],
    ['persistent', paths.store],
  ];
  for (const [key, path] of candidates) {
    if (mounts.has(path)) disk[key] = await diskUsage(path).catch(() => ({ percent: '0', inode_percent: '0' }));
  }
  const vitals: Vitals = {
    cpu: await cpu.current(),
    mem: usage(Math.max(memUsed, 0), mem.MemTotal),
    swap: usage((mem.SwapTotal ?? 0) - (mem.SwapFree ?? 0), mem.SwapTotal ?? 0),
    load: [load[0], load[1], load[2]],
    uptime: { secs: uptime },
  };
  if (Object.keys(disk).length > 0) vitals.disk = disk;
  return vitals;
}
