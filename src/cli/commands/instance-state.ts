// start, stop, restart, recreate (director-api §2.4), ignore/unignore, cck (§2.6).
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { collectVar } from '../flags.js';
import type { Wrap } from '../main.js';

interface StateFlags {
  skipDrain?: boolean;
  force?: boolean;
  canaries?: string;
  maxInFlight?: string;
  converge?: boolean;
  hard?: boolean;
  soft?: boolean;
  fix?: boolean;
  dryRun?: boolean;
  ignoreUnresponsiveAgent?: boolean;
}

/** `ig`, `ig/<index-or-uuid>`, or nothing (every instance). */
export function parseInstanceSlug(slug: string | undefined): { group?: string; id?: string } {
  if (slug === undefined || slug === '') return {};
  const [group, id, extra] = slug.split('/');
  if (!group || extra !== undefined || id === '') throw new CliError(`Expected instance '${slug}' to be <instance-group> or <instance-group>/<index-or-id>`);
  return { group, id };
}

const STATES = {
  start: { state: 'started', verb: 'start' },
  stop: { state: 'stopped', verb: 'stop' },
  restart: { state: 'restart', verb: 'restart' },
  recreate: { state: 'recreate', verb: 'recreate' },
} as const;

type Action = keyof typeof STATES;

async function changeState(ctx: CliContext, action: Action, slug: string | undefined, opts: StateFlags): Promise<void> {
  const director = await ctx.director();
  const deployment = encodeURIComponent(ctx.deployment());
  const { group, id } = parseInstanceSlug(slug);
  if (opts.converge === false) {
    if (!group || id === undefined) throw new CliError(`Expected an instance (<instance-group>/<index-or-id>) with --no-converge`);
    await director.runTask(
      'POST',
      `/deployments/${deployment}/instance_groups/${encodeURIComponent(group)}/${encodeURIComponent(id)}/actions/${action}`,
      {
        body: '',
        contentType: 'text/yaml',
        query: {
          skip_drain: opts.skipDrain ? 'true' : undefined,
          hard: action === 'stop' && opts.hard ? 'true' : undefined,
          ignore_unresponsive_agent: opts.ignoreUnresponsiveAgent ? 'true' : undefined,
        },
      },
      ctx.taskReporter(),
    );
    return;
  }
  const path = `/deployments/${deployment}/jobs/${group ? encodeURIComponent(group) : '*'}${id !== undefined ? `/${encodeURIComponent(id)}` : ''}`;
  const state = action === 'stop' && opts.hard ? 'detached' : STATES[action].state;
  await director.runTask(
    'PUT',
    path,
    {
      body: '',
      contentType: 'text/yaml',
      query: {
        state,
        skip_drain: opts.skipDrain ? 'true' : undefined,
        force: opts.force ? 'true' : undefined,
        fix: opts.fix ? 'true' : undefined,
        dry_run: opts.dryRun ? 'true' : undefined,
        canaries: opts.canaries,
        max_in_flight: opts.maxInFlight,
      },
    },
    ctx.taskReporter(),
  );
}

export function registerInstanceStateCommands(program: Command, wrap: Wrap): void {
  for (const action of Object.keys(STATES) as Action[]) {
    const command = program
      .command(`${action} [instance]`)
      .description(`${action} instances of the deployment (all, an instance group, or <group>/<index-or-id>)`)
      .option('--skip-drain', 'skip running drain and pre-stop scripts')
      .option('--force', 'no-op kept for compatibility with bosh')
      .option('--canaries <n|n%>', 'override the manifest canaries')
      .option('--max-in-flight <n|n%>', 'override the manifest max_in_flight')
      .option('--no-converge', 'only change this instance, without converging the deployment');
    if (action === 'stop') command.option('--hard', 'stop and delete the VM (keeps persistent disks)').option('--soft', 'stop processes, keep the VM (default)');
    if (action === 'recreate') {
      command
        .option('--fix', 'fix unresponsive VMs')
        .option('--dry-run', 'plan without changing anything')
        .option('--ignore-unresponsive-agent', 'recreate even if the agent does not answer (with --no-converge)');
    }
    command.action(wrap(async (ctx, slug: string | undefined, opts: StateFlags) => changeState(ctx, action, slug, opts)));
  }

  for (const ignore of [true, false]) {
    program
      .command(`${ignore ? 'ignore' : 'unignore'} <instance>`)
      .description(ignore ? 'exclude an instance from deploys and cloud checks' : 'include an ignored instance again')
      .action(
        wrap(async (ctx, slug: string) => {
          const director = await ctx.director();
          const deployment = ctx.deployment();
          const { group, id } = parseInstanceSlug(slug);
          if (!group || id === undefined) throw new CliError(`Expected instance '${slug}' to be <instance-group>/<index-or-id>`);
          await director.sendJson(
            'PUT',
            `/deployments/${encodeURIComponent(deployment)}/instance_groups/${encodeURIComponent(group)}/${encodeURIComponent(id)}/ignore`,
            { ignore },
          );
        }),
      );
  }

  program
    .command('cloud-check')
    .alias('cck')
    .description('scan the deployment for problems and resolve them')
    .option('-a, --auto', 'resolve every problem with its default resolution')
    .option('--resolution <name>', 'resolve problems with this resolution when it applies (repeatable)', collectVar, [])
    .option('-r, --report', 'only report the problems')
    .option('--max-in-flight-override <ig=n|n%>', 'override max_in_flight of an instance group (repeatable)', collectVar, [])
    .action(wrap(async (ctx, opts: CckFlags) => cloudCheck(ctx, opts)));
}

interface CckFlags {
  auto?: boolean;
  resolution: string[];
  report?: boolean;
  maxInFlightOverride: string[];
}

interface Problem {
  id: number;
  type: string;
  description: string;
  resolutions: Array<{ name: string; plan: string }>;
  instance_group?: string;
}

async function cloudCheck(ctx: CliContext, opts: CckFlags): Promise<void> {
  if (opts.auto && opts.resolution.length) throw new CliError('Expected either --auto or --resolution, not both');
  const director = await ctx.director();
  const deployment = encodeURIComponent(ctx.deployment());
  await director.runTask('POST', `/deployments/${deployment}/scans`, { contentType: 'application/json' }, ctx.taskReporter());
  const problems = await director.getJson<Problem[]>(`/deployments/${deployment}/problems`);
  ctx.ui.printTable({
    content: 'problems',
    header: ['#', 'Type', 'Description'],
    sortBy: [{ column: 0, numeric: true }],
    rows: problems.map((p) => [String(p.id), p.type, p.description]),
  });
  if (opts.report || problems.length === 0) return;
  const resolutions: Record<string, string | null> = {};
  for (const problem of problems) resolutions[String(problem.id)] = await chooseResolution(ctx, problem, opts);
  const overrides = Object.fromEntries(
    opts.maxInFlightOverride.map((o) => {
      const eq = o.indexOf('=');
      if (eq <= 0) throw new CliError(`Expected max-in-flight override '${o}' to be in format '<instance-group>=<n|n%>'`);
      return [o.slice(0, eq), o.slice(eq + 1)];
    }),
  );
  await ctx.confirm();
  await director.runTask(
    'PUT',
    `/deployments/${deployment}/problems`,
    {
      body: JSON.stringify({ resolutions, ...(Object.keys(overrides).length ? { max_in_flight_overrides: overrides } : {}) }),
      contentType: 'application/json',
    },
    ctx.taskReporter(),
  );
}

/** --auto: the director's default (null); --resolution: the first listed that applies; else ask (or the first). */
async function chooseResolution(ctx: CliContext, problem: Problem, opts: CckFlags): Promise<string | null> {
  if (opts.auto) return null;
  if (opts.resolution.length) {
    const found = problem.resolutions.find((r) => opts.resolution.includes(r.name));
    if (!found) {
      throw new CliError(
        `Expected one of --resolution ${opts.resolution.map((r) => `'${r}'`).join(', ')} to apply to problem ${problem.id} ('${problem.description}'); it can be resolved with: ${problem.resolutions.map((r) => `'${r.name}'`).join(', ')}`,
      );
    }
    return found.name;
  }
  if (!ctx.interactive) return problem.resolutions[0]?.name ?? null;
  const menu = problem.resolutions.map((r, i) => `  ${i + 1}. ${r.plan} (${r.name})`).join('\n');
  for (;;) {
    const answer = await ctx.ask(`\nProblem ${problem.id}: ${problem.description}\n${menu}\nResolution [1]: `);
    const n = answer.trim() === '' ? 1 : Number(answer.trim());
    if (Number.isInteger(n) && n >= 1 && n <= problem.resolutions.length) return problem.resolutions[n - 1].name;
  }
}
