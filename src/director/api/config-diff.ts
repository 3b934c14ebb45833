// Config diffs (director-api.md §2.9): what `update-config`, `update-cloud-config`,
// `update-runtime-config` and `update-cpi-config` show before changing anything, and `diff-config`
// between two versions. The lines are computed as for the deploy diff (manifest-diff.ts): named list
// entries (azs, vm_types, networks, addons, cpis...) are matched by name.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import { badRequest, notFound } from '../../common/errors.js';
import { parseYaml } from '../../common/yaml.js';
import type { Database } from '../db/schema.js';
import { latestConfig } from './configs.js';
import type { ApiContext } from './helpers.js';
import { manifestDiff, type DiffLine } from './manifest-diff.js';

type ConfigHash = Record<string, unknown>;

/** Content that is not a YAML hash: the generic route answers 400 `{diff: [], error}`. */
class BadConfigContent extends Error {}

/** One side of `{from, to}`: a stored version by id, or content given in the request. */
type DiffSide = { id: string } | { content: string };

type DiffRequest = { kind: 'current'; type: string; name: string; content: string } | { kind: 'pair'; from: DiffSide; to: DiffSide };

const REQUEST_FORMATS =
  'The following request formats are allowed:\n' +
  '1. {"from":<config>,"to":<config>} where <config> is either {"id":"<id>"} or {"content":"<content>"}\n' +
  '2. {"type":"<type>","name":"<name>","content":"<content>"}';

/**
 * The legacy typed routes. Cloud configs are diffed unredacted, as BOSH does (they hold no secrets);
 * runtime configs (addon properties) and cpi configs (CPI credentials) are redacted unless `redact=false`.
 */
const TYPED_DIFFS = [
  { path: '/cloud_configs/diff', type: 'cloud', named: true, redactable: false },
  { path: '/runtime_configs/diff', type: 'runtime', named: true, redactable: true },
  { path: '/cpi_configs/diff', type: 'cpi', named: false, redactable: true },
] as const;

export async function configDiffRoutes(app: FastifyInstance, { director }: ApiContext): Promise<void> {
  const { db } = director;

  app.post<{ Body: unknown }>('/configs/diff', async (request, reply) => {
    const diffRequest = parseDiffRequest(request.body);
    try {
      return diffRequest.kind === 'current' ? await diffAgainstCurrent(db, diffRequest) : { diff: await diffPair(db, diffRequest.from, diffRequest.to) };
    } catch (err) {
      if (err instanceof BadConfigContent) return badContent(reply, err);
      throw err;
    }
  });

  for (const { path, type, named, redactable } of TYPED_DIFFS) {
    app.post<{ Querystring: { name?: string; redact?: string } }>(path, async (request) => {
      const after = typedConfigHash(typeof request.body === 'string' ? request.body : '');
      const current = await latestConfig(db, type, (named && request.query.name) || 'default');
      const redact = redactable && request.query.redact !== 'false';
      try {
        const before = current ? configHash(current.content, `current ${type} config`) : {};
        return { diff: manifestDiff(before, after, redact) };
      } catch (err) {
        return { diff: [], error: `Unable to diff ${type}-config: ${(err as Error).message}` };
      }
    });
  }
}

function badContent(reply: FastifyReply, err: BadConfigContent) {
  return reply.code(400).send({ diff: [], error: `Unable to diff config content: ${err.message}` });
}

/**
 * The new version against the current one of that type and name (none: against an empty config).
 * `from.id` is the current version: `update-config` sends it back as `expected_latest_id`.
 */
async function diffAgainstCurrent(db: Kysely<Database>, request: { type: string; name: string; content: string }) {
  const after = configHash(request.content, 'content');
  const current = await latestConfig(db, request.type, request.name);
  const before = current ? configHash(current.content, `config ${current.id}`) : {};
  return { ...(current ? { from: { id: String(current.id) } } : {}), diff: manifestDiff(before, after, true) };
}

async function diffPair(db: Kysely<Database>, from: DiffSide, to: DiffSide): Promise<DiffLine[]> {
  const before = await sideHash(db, from, 'from');
  const after = await sideHash(db, to, 'to');
  return manifestDiff(before, after, true);
}

async function sideHash(db: Kysely<Database>, side: DiffSide, label: string): Promise<ConfigHash> {
  if ('content' in side) return configHash(side.content, `${label} content`);
  const id = /^\d+$/.test(side.id) ? Number(side.id) : 0;
  const row = await db.selectFrom('configs').select(['id', 'content']).where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound(`Config ${side.id} not found`, 440012);
  return configHash(row.content, `config ${row.id}`);
}

/** The two request formats; the bosh CLI sends both `id` and `content` of a side, one of them empty. */
function parseDiffRequest(body: unknown): DiffRequest {
  if (!isHash(body)) throw badRequest(REQUEST_FORMATS, 440010);
  if ('from' in body || 'to' in body) {
    const from = diffSide(body.from);
    const to = diffSide(body.to);
    if (from && to) return { kind: 'pair', from, to };
  } else {
    const { type, name, content } = body;
    if (typeof type === 'string' && type !== '' && typeof name === 'string' && name !== '' && typeof content === 'string') {
      return { kind: 'current', type, name, content };
    }
  }
  throw badRequest(REQUEST_FORMATS, 440010);
}

function diffSide(value: unknown): DiffSide | undefined {
  if (!isHash(value)) return undefined;
  if ((typeof value.id === 'string' && value.id !== '') || typeof value.id === 'number') return { id: String(value.id) };
  if (typeof value.content === 'string') return { content: value.content };
  return undefined;
}

/** Config text as a hash (YAML 1.1, as BOSH reads it); anything else is BadConfigContent. */
function configHash(text: string, what: string): ConfigHash {
  let value: unknown;
  try {
    value = parseYaml(text, what).value;
  } catch (err) {
    throw new BadConfigContent(`Config must be valid YAML: ${(err as Error).message}`);
  }
  if (!isHash(value)) throw new BadConfigContent(`${what}: YAML hash expected`);
  return value;
}

/** A typed route's body: an empty document is an empty config; anything but a hash is a bad manifest (400, 440001). */
function typedConfigHash(text: string): ConfigHash {
  let value: unknown;
  try {
    value = parseYaml(text, 'config').value;
  } catch (err) {
    throw badRequest(`Incorrect YAML structure of the uploaded config: ${(err as Error).message}`, 440001);
  }
  if (value === null || value === undefined) return {};
  if (!isHash(value)) throw badRequest('Incorrect YAML structure of the uploaded config: YAML hash expected', 440001);
  return value;
}

function isHash(value: unknown): value is ConfigHash {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
