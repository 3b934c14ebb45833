// `capstan agent -P <platform> -C <agent.json> [-b <base dir>]`: runs the agent from source
// (VMs run the bundled dist/capstan-agent.cjs, built from the same entry). The entry parses
// process.argv itself, so the flags are handed over there untouched.
export async function runAgent(args: string[]): Promise<void> {
  process.argv = [process.argv[0], 'capstan-agent', ...args];
  await import('../../agent/main.js');
}
