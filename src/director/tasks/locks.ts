// Named locks in the DB (`lock:deployment:<name>`): a row per held lock, unique by name, with an
// expiry the holder keeps pushing forward; expired rows are treated as free.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { nowSeconds } from '../db/index.js';

export const LOCK_TIMEOUT_SECONDS = 180;

export const deploymentLockName = (deployment: string): string => `lock:deployment:${deployment}`;

export interface HeldLock {
  name: string;
  uid: string;
}

/** Takes the lock for taskId, or returns null when someone else holds it. */
export async function tryAcquireLock(db: Kysely<Database>, name: string, taskId: number): Promise<HeldLock | null> {
  const uid = randomUUID();
  const now = nowSeconds();
  await db.deleteFrom('locks').where('name', '=', name).where('expired_at', '<', now).execute();
  try {
    await db.insertInto('locks').values({ name, uid, task_id: taskId, expired_at: now + LOCK_TIMEOUT_SECONDS }).execute();
    return { name, uid };
  } catch (err) {
    if (await lockHeld(db, name)) return null; // lost the race: the unique name constraint said no
    throw err;
  }
}

async function lockHeld(db: Kysely<Database>, name: string): Promise<boolean> {
  return (await db.selectFrom('locks').select('id').where('name', '=', name).executeTakeFirst()) !== undefined;
}

export async function renewLock(db: Kysely<Database>, lock: HeldLock): Promise<void> {
  await db
    .updateTable('locks')
    .set({ expired_at: nowSeconds() + LOCK_TIMEOUT_SECONDS })
    .where('name', '=', lock.name)
    .where('uid', '=', lock.uid)
    .execute();
}

export async function releaseLock(db: Kysely<Database>, lock: HeldLock): Promise<void> {
  await db.deleteFrom('locks').where('name', '=', lock.name).where('uid', '=', lock.uid).execute();
}

/** Current locks (expired ones pruned) as GET /locks shows them (director-api.md §2.1). */
export async function listLocks(db: Kysely<Database>) {
  await db.deleteFrom('locks').where('expired_at', '<', nowSeconds()).execute();
  const rows = await db.selectFrom('locks').selectAll().orderBy('id').execute();
  return rows.map((row) => {
    const [, type, ...resource] = row.name.split(':');
    return { type, resource, timeout: `${row.expired_at}.000000`, task_id: String(row.task_id) };
  });
}
