// Entry of the CLI bundle (dist/capstan.mjs): answers --version before loading any command,
// then runs the CLI (src/cli/main.ts).
declare const __CAPSTAN_VERSION__: string | undefined;

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '-v' || argv[0] === '--version')) {
  process.stdout.write(`version ${typeof __CAPSTAN_VERSION__ === 'string' ? __CAPSTAN_VERSION__ : '0.1.0'}\n\nSucceeded\n`);
} else {
  const { runCli } = await import('./main.js');
  runCli(argv);
}
