// `pagerduty`: every alert triggers an incident through PagerDuty's generic events API; the
// alert id is the incident key, so repeats of one alert fold into one incident.
import { z } from 'zod';
import { AlertEvent } from '../events/alert.js';
import { definePlugin } from './plugin.js';
import { expectSuccess } from './http-post.js';

export const PAGERDUTY_ENDPOINT = 'https://events.pagerduty.com/generic/2010-04-15/create_event.json';

export const pagerdutyPlugin = definePlugin({
  options: z.object({ service_key: z.string().min(1), endpoint: z.string().url().default(PAGERDUTY_ENDPOINT) }),
  create(options) {
    return {
      async process(event) {
        await expectSuccess('POST', options.endpoint, {
          service_key: options.service_key,
          event_type: 'trigger',
          incident_key: event.id,
          description: event instanceof AlertEvent ? event.shortDescription() : event.toString(),
          details: event.toHash(),
        });
      },
    };
  },
});
