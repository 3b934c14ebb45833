// A rootfs of a few host binaries (sh, sleep, cat) and their libraries: enough for a container whose
// PID 1 is `runsvdir -P /etc/service`, without the multi-minute debootstrap of the real stemcell.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, realpathSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';

function libraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return [...out.matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1]);
}

function copyInto(root: string, hostPath: string, as = hostPath): void {
  mkdirSync(join(root, dirname(as)), { recursive: true });
  copyFileSync(realpathSync(hostPath), join(root, as));
  chmodSync(join(root, as), 0o755);
}

/** Writes the rootfs under dir/rootfs and returns the path of its gzipped tarball (dir/image). */
export function buildTinyRootfs(dir: string): string {
  const root = join(dir, 'rootfs');
  const binaries: Array<[string, string]> = [
    ['/bin/dash', '/bin/sh'],
    ['/usr/bin/sleep', '/usr/bin/sleep'],
    ['/usr/bin/cat', '/usr/bin/cat'],
  ];
  for (const [host, as] of binaries) {
    copyInto(root, host, as);
    for (const lib of libraries(host)) copyInto(root, lib);
  }
  // stands in for runit: keeps PID 1 alive, and exits on SIGHUP as runsvdir does (the CPI's stop signal)
  writeFileSync(join(root, 'usr/bin/runsvdir'), "#!/bin/sh\ntrap 'exit 0' HUP TERM\nsleep infinity &\nwait\n", { mode: 0o755 });
  mkdirSync(join(root, 'var/vcap/bosh'), { recursive: true });
  mkdirSync(join(root, 'etc/service'), { recursive: true });
  const image = join(dir, 'image');
  execFileSync('tar', ['--numeric-owner', '-C', root, '-czf', image, '.']);
  return image;
}
