// GET /locks (director-api.md §2.1).
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './helpers.js';
import { listLocks } from '../tasks/locks.js';

export async function lockRoutes(app: FastifyInstance, { director }: ApiContext): Promise<void> {
  app.get('/locks', async () => listLocks(director.db));
}
