// Long-running processes started by the CLI (director, monitor): SIGTERM/SIGINT close them cleanly,
// once, and the process exits 0 when closing worked.
export function closeOnSignals(running: { close(): Promise<void> }): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
