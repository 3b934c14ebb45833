// Flag helpers shared by commands; kept free of heavy imports so that registering every
// command stays cheap (the work happens in lazily imported modules).

/** Collects repeated flags (-v, -l, -o, ...). */
export function collectVar(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export interface VarSources {
  /** -v name=value (the value is read as YAML: `-v count=2` is a number) */
  var?: string[];
  /** -l / --vars-file <path> (a YAML hash) */
  varsFile?: string[];
  /** --var-file name=<path> (the file's text is the value) */
  varFile?: string[];
  /** --vars-env PREFIX: every PREFIX_name environment variable */
  varsEnv?: string[];
}

export interface TemplateOptions extends VarSources {
  /** -o ops files, applied in order */
  opsFile?: string[];
  /** --var-errs: every variable must be given */
  varErrs?: boolean;
  /** --var-errs-unused: every given variable must be used */
  varErrsUnused?: boolean;
  /** --path: only the value at this pointer */
  path?: string;
  /** --vars-store <file>: variables read from it; missing declared ones generated into it */
  varsStore?: string;
}

/** The bosh flags that feed evaluateTemplate (-v, --var-file, -l, --vars-env, -o). */
export function addTemplateOptions<T extends { option: (...args: any[]) => T }>(command: T): T {
  return command
    .option('-v, --var <name=value>', 'set a variable (repeatable)', collectVar, [])
    .option('--var-file <name=path>', "set a variable to a file's contents (repeatable)", collectVar, [])
    .option('-l, --vars-file <path>', 'load variables from a YAML file (repeatable)', collectVar, [])
    .option('--vars-env <prefix>', 'load variables from environment variables PREFIX_name (repeatable)', collectVar, [])
    .option('-o, --ops-file <path>', 'apply an ops file (repeatable)', collectVar, []);
}

/** --vars-store, for the commands that interpolate with generated variables (deploy, interpolate). */
export function addVarsStoreOption<T extends { option: (...args: any[]) => T }>(command: T): T {
  return command.option('--vars-store <path>', 'load variables from a YAML file and save generated ones (password, certificate, ssh, rsa) to it');
}

/** A number flag (`--recent 10`). */
export function toInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`Expected '${value}' to be an integer`);
  return n;
}
