// A persistent TCP connection that survives its peer going away: writes are buffered (bounded)
// while disconnected, and reconnects back off 2^min(retries, 9) - 1 seconds, giving up after
// max_retries (-1: never).
import { connect, type Socket } from 'node:net';
import type { Logger } from '../../common/logging.js';

const MAX_PENDING = 10_000;

export class TcpSender {
  private socket: Socket | undefined;
  private connected = false;
  private retries = 0;
  private pending: (string | Buffer)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly host: string,
    private readonly port: number,
    private readonly maxRetries: number,
    private readonly logger: Logger,
    private readonly onData?: (chunk: Buffer) => void,
  ) {}

  start(): void {
    this.open();
  }

  write(data: string | Buffer): void {
    if (this.connected && this.socket) {
      this.socket.write(data);
      return;
    }
    this.pending.push(data);
    if (this.pending.length > MAX_PENDING) this.pending.shift();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    if (socket && this.connected) await new Promise<void>((resolve) => socket.end(resolve));
    socket?.destroy();
  }

  private open(): void {
    const socket = connect({ host: this.host, port: this.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      this.connected = true;
      this.retries = 0;
      for (const data of this.pending) socket.write(data);
      this.pending = [];
    });
    if (this.onData) socket.on('data', this.onData);
    socket.on('error', (err) => this.logger.warn(`${this.name}: connection to ${this.host}:${this.port} failed: ${err.message}`));
    socket.on('close', () => {
      this.connected = false;
      if (!this.stopped) this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.maxRetries !== -1 && this.retries >= this.maxRetries) {
      this.logger.error(`${this.name}: giving up on ${this.host}:${this.port} after ${this.retries} retries`);
      return;
    }
    const delay = (2 ** Math.min(this.retries, 9) - 1) * 1000;
    this.retries++;
    this.timer = setTimeout(() => this.open(), delay);
  }
}
