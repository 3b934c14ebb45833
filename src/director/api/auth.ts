// Authentication and authorization for every route but GET /info (director-api.md §1.3).
// Who: Basic credentials of a configured user, or a UAA-style bearer token (token.ts).
// What: the principal's scopes decide per route (permissions.ts); team scopes only reach their
// team's deployments and tasks, and lists are filtered down to them.
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import type { Kysely } from 'kysely';
import type { DirectorConfig } from '../config.js';
import type { Database } from '../db/schema.js';
import { parseBasicAuth, safeEqual } from '../../blobstore/dav-server.js';
import { accessOf, decide, requiredScopes, type Access, type Decision, type Principal } from './permissions.js';
import { DeploymentTeams } from './teams.js';
import { InvalidToken, TokenVerifier } from './token.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: string | null;
    /** The authenticated principal's scopes (empty when unauthenticated). */
    scopes: string[];
  }
}

export const DEFAULT_SCOPES = ['bosh.admin'];
/** director-api.md §1.3: permission failures are 401 with this code. */
export const PERMISSION_DENIED_CODE = 600000;

/** The user whose valid Basic credentials the request carries, or null. */
export function authenticatedUser(request: FastifyRequest, users: DirectorConfig['users']): string | null {
  return basicPrincipal(request.headers.authorization, users)?.user ?? null;
}

function basicPrincipal(header: string | undefined, users: DirectorConfig['users']): Principal | null {
  const creds = parseBasicAuth(header);
  if (!creds) return null;
  // Compare against every user so the time taken does not tell which names exist.
  let found: Principal | null = null;
  for (const user of users) {
    if (safeEqual(creds.user, user.name) && safeEqual(creds.password, user.password)) found = { user: user.name, scopes: user.scopes ?? DEFAULT_SCOPES };
  }
  return found;
}

function bearerPrincipal(header: string | undefined, verifier: TokenVerifier | undefined): Principal | null {
  const match = /^bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match || !verifier) return null;
  try {
    return verifier.verify(match[1]);
  } catch (err) {
    if (err instanceof InvalidToken) return null;
    throw err;
  }
}

export function tokenVerifier(config: DirectorConfig): TokenVerifier | undefined {
  const uaa = config.uaa;
  if (!uaa) return undefined;
  const publicKeyPem = uaa.public_key ?? (uaa.public_key_path ? readFileSync(uaa.public_key_path, 'utf8') : undefined);
  if (!uaa.symmetric_key && !publicKeyPem) return undefined;
  return new TokenVerifier({ symmetricKey: uaa.symmetric_key, publicKeyPem });
}

export function requestPath(request: FastifyRequest): string {
  return request.url.split('?')[0];
}

const isInfo = (request: FastifyRequest) => request.method === 'GET' && requestPath(request) === '/info';

export interface AuthContext {
  config: DirectorConfig;
  db: Kysely<Database>;
}

export function registerAuth(app: FastifyInstance, director: AuthContext): void {
  const verifier = tokenVerifier(director.config);
  const teams = new DeploymentTeams(director.db);
  const access = new WeakMap<FastifyRequest, Access>();
  app.decorateRequest('user', null);
  app.decorateRequest('scopes', null as unknown as string[]);

  app.addHook('onRequest', async (request, reply) => {
    const header = request.headers.authorization;
    const principal = basicPrincipal(header, director.config.users) ?? bearerPrincipal(header, verifier);
    request.user = principal?.user ?? null;
    request.scopes = principal?.scopes ?? [];
    if (principal && !isInfo(request)) {
      const granted = accessOf(principal.scopes, director.config.uuid);
      access.set(request, granted);
      // Decided before the body is read: nobody may stream a body to a route they cannot use.
      const decision = decide(request.method, requestPath(request), granted);
      if (decision.kind === 'new-deployment') return; // needs the manifest: preHandler
      if (!(await permitted(request, decision, granted, teams))) return deny(request, reply, director.config.uuid);
    }
    if (principal || isInfo(request)) return;
    return reply
      .code(401)
      .header('WWW-Authenticate', 'Basic realm="BOSH Director"')
      .type('text/plain')
      .send(`Not authorized: '${requestPath(request)}'\n`);
  });

  // After body parsing: creating a deployment as a team needs the manifest's name.
  app.addHook('preHandler', async (request, reply) => {
    const granted = access.get(request);
    if (!granted) return;
    const decision = decide(request.method, requestPath(request), granted);
    if (decision.kind !== 'new-deployment') return;
    if (!(await permitted(request, decision, granted, teams))) return deny(request, reply, director.config.uuid);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const path = requestPath(request);
    if (request.method !== 'GET' || reply.statusCode !== 200 || typeof payload !== 'string') return payload;
    if (path !== '/deployments' && path !== '/tasks') return payload;
    const granted = access.get(request);
    return JSON.stringify(await visible(path, JSON.parse(payload), granted, teams));
  });
}

async function permitted(request: FastifyRequest, decision: Decision, granted: Access, teams: DeploymentTeams): Promise<boolean> {
  const owns = (owners: string[], write: boolean) => owners.some((t) => (write ? granted.adminTeams : granted.readTeams).includes(t));
  switch (decision.kind) {
    case 'allow':
    case 'filter':
      return true;
    case 'deny':
      return false;
    case 'deployment':
      return owns(await teams.teamsOf(decision.deployment), decision.write);
    case 'task': {
      const deployment = await teams.taskDeployment(decision.taskId);
      return typeof deployment === 'string' && owns(await teams.teamsOf(deployment), decision.write);
    }
    case 'new-deployment': {
      const name = manifestName(request.body);
      if (name === undefined) return false;
      if (await teams.deploymentExists(name)) return owns(await teams.teamsOf(name), true);
      await teams.claim(name, granted.adminTeams);
      return true;
    }
  }
}

function manifestName(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const name = (parseYaml(body, { maxAliasCount: 100 }) as { name?: unknown } | null)?.name;
    return typeof name === 'string' && name !== '' ? name : undefined;
  } catch {
    return undefined;
  }
}

/** Deployment lists name their teams; team principals only see their teams' deployments and tasks. */
async function visible(path: string, items: unknown, granted: Access | undefined, teams: DeploymentTeams): Promise<unknown> {
  if (!Array.isArray(items)) return items;
  const owners = await teams.all();
  const teamOnly = granted !== undefined && !granted.read;
  const mine = (deployment: unknown) => typeof deployment === 'string' && (owners.get(deployment) ?? []).some((t) => granted!.readTeams.includes(t));
  if (path === '/deployments') {
    const named = items.map((d: { name?: unknown }) => ({ ...d, teams: owners.get(String(d.name)) ?? [] }));
    return teamOnly ? named.filter((d) => mine(d.name)) : named;
  }
  return teamOnly ? items.filter((t: { deployment?: unknown }) => mine(t.deployment)) : items;
}

function deny(request: FastifyRequest, reply: FastifyReply, uuid: string): FastifyReply {
  const scopes = requiredScopes(request.method, requestPath(request), uuid);
  return reply.code(401).send({ code: PERMISSION_DENIED_CODE, description: `Require one of the scopes: ${scopes.join(', ')}` });
}
