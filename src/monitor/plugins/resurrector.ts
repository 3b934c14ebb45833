// `resurrector` (health-monitor.md A.8): acts only on aggregated deployment_health alerts. It
// records the critical ones per instance, decides meltdown (count >= minimum_down_jobs and
// count/total >= percent_threshold, over alerts within time_threshold) or managed, and in the
// managed case asks the director to `PUT /deployments/<d>/scan_and_fix` the enabled instance
// groups, unless a scan-and-fix task is already queued or running.
//
// Beyond BOSH: agents that stop at the same moment time out up to one heartbeat period apart,
// so one analysis round may see only part of a mass failure. The resurrector therefore waits
// until the set of down instances has stopped growing for settle_period seconds before acting,
// so a deployment-wide failure reaches meltdown instead of being half-resurrected first.
import { z } from 'zod';
import { DirectorAccess } from '../config.js';
import { DirectorClient } from '../director-client.js';
import { AlertEvent } from '../events/alert.js';
import { definePlugin, type PluginContext } from './plugin.js';

interface DeploymentState {
  /** "job/instance_id" -> created_at (s) of its latest critical alert. */
  down: Map<string, number>;
  current: Set<string>;
  grewAt: number;
  busy: boolean;
}

type Jobs = Record<string, string[]>;

const nowSeconds = () => Math.floor(Date.now() / 1000);

export const resurrectorPlugin = definePlugin({
  options: z.object({
    director: DirectorAccess.optional(),
    minimum_down_jobs: z.number().int().nonnegative().default(5),
    percent_threshold: z.number().min(0).max(1).default(0.2),
    time_threshold: z.number().positive().default(600),
    settle_period: z.number().nonnegative().default(30),
  }),
  create(options, ctx) {
    const director = options.director ? new DirectorClient(options.director) : ctx.director;
    const states = new Map<string, DeploymentState>();

    const stateOf = (deployment: string) => {
      let state = states.get(deployment);
      if (!state) states.set(deployment, (state = { down: new Map(), current: new Set(), grewAt: 0, busy: false }));
      return state;
    };

    const alert = (severity: number, title: string, summary: string, deployment: string) =>
      ctx.emitAlert({ severity, source: 'HM plugin resurrector', title, summary, deployment, created_at: nowSeconds() });

    return {
      async process(event) {
        if (!(event instanceof AlertEvent) || event.category !== 'deployment_health' || !event.deployment || !event.jobsToInstanceIds) return;
        const deployment = event.deployment;
        const state = stateOf(deployment);
        const keys = Object.entries(event.jobsToInstanceIds).flatMap(([job, ids]) => ids.map((id) => `${job}/${id}`));
        if (event.severity === 2) for (const key of keys) state.down.set(key, event.createdAt);
        if (keys.some((k) => !state.current.has(k))) state.grewAt = Date.now();
        state.current = new Set(keys);
        if (state.busy) return;
        state.busy = true;
        try {
          await decide(deployment, state, event.jobsToInstanceIds, ctx);
        } finally {
          state.busy = false;
        }
      },
      stop() {
        if (director !== ctx.director) director.close();
      },
    };

    async function decide(deployment: string, state: DeploymentState, jobs: Jobs, ctx: PluginContext): Promise<void> {
      try {
        await director.getInfo();
      } catch (err) {
        ctx.logger.error(`resurrector: director unreachable, skipping ${deployment}: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      const instanceIds = new Set(ctx.registry.deployments.get(deployment)?.instances.map((i) => `${i.job}/${i.id}`) ?? []);
      const since = nowSeconds() - options.time_threshold;
      let count = 0;
      for (const [key, at] of state.down) {
        if (at < since) state.down.delete(key);
        else if (instanceIds.has(key)) count++;
      }
      const total = ctx.registry.deploymentSize(deployment);
      const instances = Object.entries(jobs).flatMap(([job, ids]) => ids.map((id) => `${job}/${id}`)).join(', ');
      if (count >= options.minimum_down_jobs && total > 0 && count / total >= options.percent_threshold) {
        alert(1, 'We are in meltdown', `Skipping resurrection for instances: ${instances}; ${count}/${total} instances of ${deployment} are down (minimum_down_jobs: ${options.minimum_down_jobs}, percent_threshold: ${options.percent_threshold})`, deployment);
        return;
      }
      if (count === 0) return;
      if (Date.now() - state.grewAt < options.settle_period * 1000) {
        ctx.logger.info(`resurrector: ${deployment} has ${count} down instance(s); waiting for the set to settle`);
        return;
      }
      const enabled: Jobs = {};
      const disabled: string[] = [];
      for (const [job, ids] of Object.entries(jobs)) {
        if (ctx.resurrection.isEnabled(deployment, job)) enabled[job] = ids;
        else disabled.push(...ids.map((id) => `${job}/${id}`));
      }
      if (disabled.length) alert(1, 'Resurrection is disabled by resurrection config', `Skipping resurrection for instances: ${disabled.join(', ')} in ${deployment}`, deployment);
      if (Object.keys(enabled).length === 0) return;
      if (await scanAndFixPending(deployment, ctx)) return;
      const named = Object.entries(enabled).flatMap(([job, ids]) => ids.map((id) => `${job}/${id}`)).join(', ');
      alert(4, 'Scan unresponsive VMs', `Notifying Director to scan and fix ${deployment}: ${named}`, deployment);
      const res = await director.request('PUT', `/deployments/${encodeURIComponent(deployment)}/scan_and_fix`, { jobs: enabled });
      if (res.status >= 400) ctx.logger.error(`resurrector: scan_and_fix for ${deployment} refused: ${res.status} ${res.body.slice(0, 300)}`);
      else ctx.logger.info(`resurrector: asked the director to scan and fix ${deployment}: ${named}`);
    }

    /** True (skip this round) when a scan-and-fix task is queued or running, or tasks cannot be listed. */
    async function scanAndFixPending(deployment: string, ctx: PluginContext): Promise<boolean> {
      const res = await director.request('GET', `/tasks?deployment=${encodeURIComponent(deployment)}&state=queued,processing&verbose=2`);
      if (res.status !== 200) {
        ctx.logger.warn(`resurrector: cannot list tasks of ${deployment} (${res.status}); skipping this round`);
        return true;
      }
      try {
        const tasks = JSON.parse(res.body) as { description?: string }[];
        if (tasks.some((t) => t.description === 'scan and fix')) {
          ctx.logger.info(`resurrector: a scan and fix task is already queued or running for ${deployment}`);
          return true;
        }
        return false;
      } catch {
        return true;
      }
    }
  },
});
