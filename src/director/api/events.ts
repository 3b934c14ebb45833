// The event log (director-api.md §2.1): GET /events with filters and before_id paging, GET /events/<id>.
import type { FastifyInstance } from 'fastify';
import { notFound } from '../../common/errors.js';
import type { ApiContext } from './helpers.js';
import { findEvent, listEvents, type EventFilters } from '../day2/events.js';

export async function eventRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db } = ctx.director;
  app.get<{ Querystring: EventFilters }>('/events', async (request) => listEvents(db, request.query));
  app.get<{ Params: { id: string } }>('/events/:id', async (request) => {
    const event = await findEvent(db, request.params.id);
    if (!event) throw notFound(`Event ${request.params.id} not found`, 10000);
    return event;
  });
}
