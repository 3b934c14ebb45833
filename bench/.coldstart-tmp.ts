import { AgentEnv, waitFor } from '/work/main/test/agent/harness.ts';
const env = new AgentEnv({ heartbeatMs: 30_000 });
await env.setup();
try {
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    env.spawnAgent();
    await waitFor('hb', async () => (env.heartbeats.length > i ? true : undefined), 60_000, () => env.log);
    const t1 = Date.now();
    console.log(`run ${i}: first heartbeat after ${t1 - t0} ms (spawn at ${t0})`);
    for (const line of env.log.split('\n').filter(Boolean)) {
      try { const j = JSON.parse(line); console.log(`  +${j.time - t0} ms ${j.msg}`); } catch { console.log('  ' + line.slice(0, 120)); }
    }
    env.log = '';
    await env.stopAgent();
  }
} finally { await env.teardown(); }
