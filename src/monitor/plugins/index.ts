// Plugin names (as in bosh-monitor's config) to their factories.
import type { PluginFactory } from './plugin.js';
import { consulEventForwarderPlugin } from './consul-event-forwarder.js';
import { dataDogPlugin } from './data-dog.js';
import { emailPlugin } from './email.js';
import { eventLoggerPlugin } from './event-logger.js';
import { graphitePlugin } from './graphite.js';
import { jsonPlugin } from './json.js';
import { loggerPlugin } from './logger.js';
import { pagerdutyPlugin } from './pagerduty.js';
import { resurrectorPlugin } from './resurrector.js';
import { riemannPlugin } from './riemann.js';

export const PLUGINS: Record<string, PluginFactory> = {
  logger: loggerPlugin,
  event_logger: eventLoggerPlugin,
  json: jsonPlugin,
  resurrector: resurrectorPlugin,
  email: emailPlugin,
  pagerduty: pagerdutyPlugin,
  data_dog: dataDogPlugin,
  graphite: graphitePlugin,
  riemann: riemannPlugin,
  consul_event_forwarder: consulEventForwarderPlugin,
};
