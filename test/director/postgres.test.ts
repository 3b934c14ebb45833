// The same director against PostgreSQL: migrations, the task queue and locks, crash recovery.
// Runs a throwaway cluster (unix socket only, no TCP) when PostgreSQL's server binaries are installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/director/db/index.js';
import { recoverInterruptedTasks } from '../../src/director/tasks/worker.js';
import { postgresUnavailable, startPostgresCluster, type PostgresCluster } from '../support/test-db.js';
import { makeConfig, makeTempDir, startTestDirector, taskIdFrom, type TestDirector } from './helpers.js';

const skip = postgresUnavailable() ?? false;

let cluster: PostgresCluster | undefined;
let url = '';

before(() => {
  if (skip) return;
  cluster = startPostgresCluster();
  url = cluster.createDatabase();
});
after(() => cluster?.stop());

test('the director runs on PostgreSQL: migrations, tasks with locks, output columns, crash recovery', { skip }, async () => {
  const work = makeTempDir('director-pg-work');
  const config = { ...makeConfig(work.dir), db: { adapter: 'postgres' as const, url } };
  let director: TestDirector | undefined;
  try {
    director = await startTestDirector(work.dir, {
      config,
      jobs: { update_deployment: async (_d, task, p) => {
        await task.events.beginStage('Preparing deployment', 1).track('Preparing deployment', async () => undefined);
        await task.appendResult('line one');
        return `/deployments/${p.deployment_name}`;
      } },
    });
    const id = taskIdFrom(await director.request('POST', '/deployments', { headers: { 'content-type': 'text/yaml' }, body: 'name: pg\n' }));
    const task = await director.waitForTask(id);
    assert.equal(task.state, 'done');
    assert.equal(task.result, '/deployments/pg');
    assert.equal((await director.request('GET', `/tasks/${id}/output?type=result`)).text, 'line one\n');
    const events = (await director.request('GET', `/tasks/${id}/output?type=event`)).text.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.state), ['started', 'finished']);
    assert.deepEqual((await director.request('GET', '/deployments')).json().map((d: any) => d.name), ['pg']);
    assert.deepEqual((await director.request('GET', '/locks')).json(), []);
    await director.close();
    director = undefined;

    // A director that died mid-task left this behind; migrations run again harmlessly on reopen.
    const db = await openDatabase(config.db);
    try {
      const row = await db.insertInto('tasks').values({
        state: 'processing', type: 'update_deployment', description: 'create deployment', result: null, timestamp: 1,
        started_at: 1, checkpoint_time: 1, username: 'admin', deployment_name: 'pg', context_id: '', payload_json: '{}',
      }).returning('id').executeTakeFirstOrThrow();
      await db.insertInto('locks').values({ name: 'lock:deployment:pg', uid: 'u', expired_at: 2 ** 31 - 1, task_id: row.id }).execute();
      assert.deepEqual(await recoverInterruptedTasks(db), [row.id]);
      const after = await db.selectFrom('tasks').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
      assert.equal(after.state, 'error');
      assert.match(after.event_output, /"error":\{"code":100/);
      assert.deepEqual(await db.selectFrom('locks').selectAll().execute(), []);
    } finally {
      await db.destroy();
    }
  } finally {
    await director?.close();
    work.remove();
  }
});
