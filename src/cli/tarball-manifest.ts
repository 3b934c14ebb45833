// Reads one small file (stemcell.MF, release.MF) out of a .tgz without extracting the rest.
import { t } from 'tar';

export async function readTarEntry(tgzPath: string, name: string): Promise<string | undefined> {
  let content: string | undefined;
  await t({
    file: tgzPath,
    filter: (path) => path.replace(/^\.\//, '') === name,
    onReadEntry: (entry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => (content = Buffer.concat(chunks).toString('utf8')));
    },
  });
  return content;
}
