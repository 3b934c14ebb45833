// Ports for the dummy CPI's agents (monit httpd, monit alert SMTP listener). The CPI picks them and
// the agent binds them seconds later, so a port that is merely free now is not enough:
//  - the range lies below the kernel's ephemeral range (32768-60999 by default), so neither an
//    outgoing connection (NATS, blobstore, monit CLI ...) nor anyone's bind(0) can take the port
//    in the meantime: asking the kernel for a free port (bind 0, close) picked exactly those;
//  - each port is reserved machine-wide by creating a file exclusively (O_EXCL), so concurrent
//    createVm calls, from any process or environment on the host, never hand out the same port;
//  - a port something already listens on is skipped.
// Reservations name their VM directory; deleting the VM releases them, and a reservation whose VM
// directory is gone (an environment removed without deleting its VMs) is reclaimed.
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type PortRange = [low: number, high: number];

/** Above the local environment's fixed ports (director 25555, blobstore 25250), below the ephemeral range. */
export const DEFAULT_AGENT_PORT_RANGE: PortRange = [27000, 32767];

/** Machine-wide: every dummy CPI on the host must see every reservation. */
export const PORT_RESERVATIONS_DIR = join(tmpdir(), 'capstan-dummy-cpi-ports');

/** A reservation younger than this is never reclaimed: its VM directory may not exist yet. */
const RECLAIM_AFTER_MS = 60_000;

/** Reserves `count` distinct ports for the VM directory `owner`; throws when the range is exhausted. */
export async function reservePorts(count: number, owner: string, range: PortRange = DEFAULT_AGENT_PORT_RANGE): Promise<number[]> {
  await mkdir(PORT_RESERVATIONS_DIR, { recursive: true });
  const [low, high] = range;
  const size = high - low + 1;
  const start = randomInt(size); // concurrent callers start at different places: fewer collisions
  const ports: number[] = [];
  for (let i = 0; i < size && ports.length < count; i++) {
    const port = low + ((start + i) % size);
    if (await reservePort(port, owner)) ports.push(port);
  }
  if (ports.length < count) {
    await releasePorts(ports, owner);
    throw new Error(`No free port left in ${low}-${high} for the agent`);
  }
  return ports;
}

/** Releases the ports `owner` holds (a port reserved by someone else since is left alone). */
export async function releasePorts(ports: number[], owner: string): Promise<void> {
  for (const port of ports) {
    const file = reservationFile(port);
    if ((await readFile(file, 'utf8').catch(() => '')) === owner) await rm(file, { force: true });
  }
}

function reservationFile(port: number): string {
  return join(PORT_RESERVATIONS_DIR, String(port));
}

async function reservePort(port: number, owner: string): Promise<boolean> {
  const file = reservationFile(port);
  if (!(await claim(file, owner))) {
    if (!(await abandoned(file))) return false;
    await rm(file, { force: true });
    if (!(await claim(file, owner))) return false;
  }
  if (await canListen(port)) return true;
  await rm(file, { force: true });
  return false;
}

async function claim(file: string, owner: string): Promise<boolean> {
  try {
    await writeFile(file, owner, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

async function abandoned(file: string): Promise<boolean> {
  const [owner, info] = await Promise.all([readFile(file, 'utf8').catch(() => ''), stat(file).catch(() => undefined)]);
  if (!info || Date.now() - info.mtimeMs < RECLAIM_AFTER_MS) return false;
  return owner === '' || !existsSync(owner);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}
