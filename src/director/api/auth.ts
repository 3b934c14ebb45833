// Basic auth for every route but GET /info (director-api.md §1.3); the authenticated user name is
// kept on the request (tasks record it).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DirectorConfig } from '../config.js';
import { parseBasicAuth, safeEqual } from '../../blobstore/dav-server.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: string | null;
  }
}

/** The user whose valid Basic credentials the request carries, or null. */
export function authenticatedUser(request: FastifyRequest, users: DirectorConfig['users']): string | null {
  const creds = parseBasicAuth(request.headers.authorization);
  if (!creds) return null;
  // Compare against every user so the time taken does not tell which names exist.
  let found: string | null = null;
  for (const user of users) {
    if (safeEqual(creds.user, user.name) && safeEqual(creds.password, user.password)) found = user.name;
  }
  return found;
}

export function requestPath(request: FastifyRequest): string {
  return request.url.split('?')[0];
}

export function registerAuth(app: FastifyInstance, users: DirectorConfig['users']): void {
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (request, reply) => {
    request.user = authenticatedUser(request, users);
    if (request.user !== null) return;
    if (request.method === 'GET' && requestPath(request) === '/info') return;
    return reply
      .code(401)
      .header('WWW-Authenticate', 'Basic realm="BOSH Director"')
      .type('text/plain')
      .send(`Not authorized: '${requestPath(request)}'\n`);
  });
}
