// GET /info: unauthenticated; echoes the user when valid Basic credentials came along (bosh log-in).
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './helpers.js';
import { DIRECTOR_VERSION } from '../tasks/queue.js';

export async function infoRoutes(app: FastifyInstance, { director }: ApiContext): Promise<void> {
  app.get('/info', async (request) => ({
    name: director.config.name,
    uuid: director.config.uuid,
    version: DIRECTOR_VERSION,
    user: request.user,
    cpi: director.cpiName,
    stemcell_os: '',
    stemcell_version: '',
    user_authentication: director.config.uaa?.url
      ? { type: 'uaa', options: { url: director.config.uaa.url, urls: [director.config.uaa.url] } }
      : { type: 'basic', options: {} },
    features: {
      local_dns: { status: false, extras: { domain_name: 'bosh' } },
      snapshots: { status: false },
      config_server: { status: false, extras: { urls: [] } },
    },
  }));
}
