// A progress bar for uploads and downloads, drawn on stderr only when it is a terminal (and
// never in --json mode): `Uploading release  [#########.........]  52%  12.3 MiB / 23.6 MiB`.
export type Progress = (done: number, total: number) => void;

const WIDTH = 30;

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A progress callback, or undefined when the output is not a terminal. */
export function progressBar(label: string, json: boolean, stream: NodeJS.WriteStream = process.stderr): Progress | undefined {
  if (json || !stream.isTTY) return undefined;
  let last = -1;
  return (done, total) => {
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    if (pct === last) return;
    last = pct;
    const filled = Math.round((pct / 100) * WIDTH);
    stream.write(`\r${label}  [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]  ${String(pct).padStart(3)}%  ${mib(done)} / ${mib(total)}`);
    if (done >= total) stream.write('\n');
  };
}
