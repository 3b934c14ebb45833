// `riemann`: events over Riemann's TCP protocol (a 4-byte big-endian length, then a protobuf
// `Msg` with repeated `Event`s). Heartbeats become one event per metric (service `bosh.hm`,
// the metric name as attribute `name`); alerts carry `state` = the severity's name. Other
// fields of the event hash travel as attributes, as the Ruby client sends them.
import { z } from 'zod';
import { AlertEvent } from '../events/alert.js';
import { HeartbeatEvent } from '../events/heartbeat.js';
import { definePlugin } from './plugin.js';
import { TcpSender } from './tcp-line-sender.js';

export interface RiemannEvent {
  service: string;
  state?: string;
  description?: string;
  time?: number;
  metric?: number;
  attributes: Record<string, string>;
}

// Minimal protobuf writer: varints, length-delimited fields, doubles and floats.
class ProtoWriter {
  private parts: Buffer[] = [];

  private varint(value: number): void {
    const bytes: number[] = [];
    let v = BigInt(value);
    if (v < 0n) v = BigInt.asUintN(64, v);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      bytes.push(byte);
    } while (v > 0n);
    this.parts.push(Buffer.from(bytes));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int64(field: number, value: number): this {
    this.tag(field, 0);
    this.varint(Math.trunc(value));
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  bytes(field: number, value: Buffer): this {
    this.tag(field, 2);
    this.varint(value.length);
    this.parts.push(value);
    return this;
  }

  double(field: number, value: number): this {
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    this.parts.push(b);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.parts.push(b);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Riemann's `Msg { repeated Event events = 6; }`, length-prefixed for TCP. */
export function encodeRiemannMessage(events: RiemannEvent[]): Buffer {
  const msg = new ProtoWriter();
  for (const e of events) {
    const w = new ProtoWriter();
    if (e.time !== undefined) w.int64(1, e.time);
    if (e.state !== undefined) w.string(2, e.state);
    w.string(3, e.service);
    if (e.description !== undefined) w.string(5, e.description);
    for (const [key, value] of Object.entries(e.attributes)) w.bytes(9, new ProtoWriter().string(1, key).string(2, value).finish());
    if (e.metric !== undefined && Number.isFinite(e.metric)) w.double(14, e.metric).float(15, e.metric);
    msg.bytes(6, w.finish());
  }
  const body = msg.finish();
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

function attributesOf(hash: Record<string, unknown>, skip: string[]): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(hash)) {
    if (skip.includes(key) || value === null || value === undefined) continue;
    attributes[key] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return attributes;
}

export function riemannEventsFor(event: HeartbeatEvent | AlertEvent): RiemannEvent[] {
  if (event instanceof AlertEvent) {
    return [{ service: 'bosh.hm', state: event.severityName, description: event.summary, time: event.createdAt, attributes: attributesOf(event.toHash(), ['summary']) }];
  }
  const attributes = attributesOf(event.toHash(), ['vitals', 'metrics']);
  return event.metrics.map((m) => ({ service: 'bosh.hm', time: event.timestamp, metric: Number(m.value), attributes: { ...attributes, name: m.name } }));
}

export const riemannPlugin = definePlugin({
  options: z.object({ host: z.string().min(1), port: z.number().int().positive().default(5555), max_retries: z.number().int().min(-1).default(35) }),
  create(options, ctx) {
    // Riemann answers every Msg with an ack Msg; nothing in it needs reading.
    const sender = new TcpSender('riemann', options.host, options.port, options.max_retries, ctx.logger, () => {});
    return {
      run: () => sender.start(),
      process(event) {
        if (event instanceof HeartbeatEvent || event instanceof AlertEvent) sender.write(encodeRiemannMessage(riemannEventsFor(event)));
      },
      stop: () => sender.stop(),
    };
  },
});
