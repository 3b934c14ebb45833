// The health monitor's config for the local environment (src/monitor/config.ts schema).
import type { DirectorConfig } from '../director/config.js';
import { MONITOR_USER } from './director-config.js';
import type { EnvironmentPaths } from './paths.js';

/** httpPort: the monitor's /healthz and /metrics, on loopback. */
export function buildMonitorConfig(paths: EnvironmentPaths, director: DirectorConfig, directorUrl: string, httpPort: number): object {
  const user = director.users.find((u) => u.name === MONITOR_USER);
  if (!user) throw new Error(`The director config has no '${MONITOR_USER}' user for the health monitor`);
  return {
    loglevel: 'info',
    http: { host: '127.0.0.1', port: httpPort },
    mbus: {
      endpoint: director.nats.url,
      server_ca_path: paths.certs.ca,
      client_certificate_path: paths.certs.monitorClient,
      client_private_key_path: paths.certs.monitorClientKey,
    },
    director: { endpoint: directorUrl, user: MONITOR_USER, password: user.password, ca_cert: paths.certs.ca },
    plugins: [
      { name: 'logger', events: ['alert'] },
      { name: 'event_logger', events: ['alert'] },
      { name: 'resurrector', events: ['alert'], options: { minimum_down_jobs: 5, percent_threshold: 0.2, time_threshold: 600 } },
    ],
  };
}
