// Test fixtures: a small release directory, and raw tar archives with entries no honest tool writes.
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** A release with two packages (one from src/, one from a blob, a dependency) and two jobs. */
export async function makeReleaseDir(root: string): Promise<void> {
  await writeFiles(root, {
    'config/final.yml': 'name: demo\n',
    'packages/app/spec': 'name: app\ndependencies: [runtime]\nfiles:\n- app/**/*\nexcluded_files:\n- app/**/*.tmp\n',
    'packages/app/packaging': 'cp -R app "${BOSH_INSTALL_TARGET}/"\n',
    'packages/runtime/spec': '---\nname: runtime\nfiles: [runtime/*.bin]\n',
    'packages/runtime/packaging': 'cp runtime/*.bin "${BOSH_INSTALL_TARGET}/"\n',
    'src/app/main.txt': 'hello\n',
    'src/app/lib/run.sh': '#!/bin/sh\necho run\n',
    'src/app/scratch.tmp': 'not shipped\n',
    'blobs/runtime/engine.bin': 'BLOB-CONTENT',
    'jobs/web/spec': [
      'name: web',
      'templates:',
      '  ctl.erb: bin/ctl',
      '  config.yml.erb: config/config.yml',
      'packages: [app]',
      'properties:',
      '  web.port:',
      '    description: port',
      '    default: 8080',
      '  web.enabled:',
      '    default: yes',
      'provides:',
      '- name: web',
      '  type: http',
      '',
    ].join('\n'),
    'jobs/web/monit': 'check process web\n  with pidfile /var/vcap/sys/run/web/pid\n',
    'jobs/web/templates/ctl.erb': '#!/bin/bash\necho <%= p("web.port") %>\n',
    'jobs/web/templates/config.yml.erb': 'port: <%= p("web.port") %>\n',
    'jobs/check/spec': 'name: check\ntemplates:\n  run.erb: bin/run\n',
    'jobs/check/monit': '',
    'jobs/check/templates/run.erb': '#!/bin/bash\nexit 0\n',
  });
  await chmod(join(root, 'src/app/lib/run.sh'), 0o755);
}

export interface RawEntry {
  path: string;
  content?: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  linkpath?: string;
}

function header(entry: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number) => h.write(text, offset, length, 'utf8');
  const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0') + '\0';
  put(entry.path, 0, 100);
  put(octal(entry.type === 'dir' ? 0o755 : 0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put({ file: '0', dir: '5', symlink: '2', hardlink: '1' }[entry.type ?? 'file'], 156, 1);
  put(entry.linkpath ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** A gzipped tar written byte by byte, so entries keep exactly the paths given (`../x`, `/etc/x`). */
export async function writeRawTgz(file: string, entries: RawEntry[]): Promise<void> {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.type && entry.type !== 'file' ? '' : (entry.content ?? ''));
    blocks.push(header(entry, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  await writeFile(file, gzipSync(Buffer.concat(blocks)));
}
