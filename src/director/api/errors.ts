// Director error bodies `{code, description}` (director-api.md §1.4) and the unknown-route text.
import type { FastifyError, FastifyInstance } from 'fastify';
import { CapstanError } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { requestPath } from './auth.js';

export function registerErrorHandlers(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: FastifyError | CapstanError, request, reply) => {
    if (err instanceof CapstanError) {
      return reply.code(err.httpStatus).send({ code: err.code, description: err.message });
    }
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = request.routeOptions.bodyLimit ?? request.server.initialConfig.bodyLimit ?? 0;
      return reply.code(413).send({ code: 40000, description: `Request body is too large: the limit is ${limit} bytes` });
    }
    const status = (err as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ code: 40000, description: err.message });
    }
    log.error({ err, method: request.method, path: requestPath(request) }, 'Request failed');
    return reply.code(500).send({ code: 100, description: err.message });
  });
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).type('text/plain').send(`Endpoint '${requestPath(request)}' not found.`);
  });
}
