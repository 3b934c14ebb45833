import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runningPid, startDetached, stopProcess } from '../../src/environment/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'capstan-processes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a detached process is found by its pid file and stopped with SIGKILL when it ignores SIGTERM', async () => {
  const pidFile = join(dir, 'stubborn.pid');
  const logFile = join(dir, 'stubborn.log');
  const pid = startDetached({ command: 'bash', args: ['-c', 'trap "echo got TERM" TERM; echo started; while true; do sleep 0.1; done', 'capstan-stubborn'], pidFile, logFile });
  while (!readFileSync(logFile, 'utf8').includes('started')) await new Promise((r) => setTimeout(r, 20)); // trap is set
  assert.equal(runningPid(pidFile, 'capstan-stubborn'), pid);
  assert.equal(runningPid(pidFile, 'something-else'), undefined, 'a pid running another command is not ours');
  assert.equal(await stopProcess(pidFile, 'capstan-stubborn', 300), true);
  assert.equal(runningPid(pidFile, 'capstan-stubborn'), undefined);
  assert.ok(!existsSync(pidFile));
  assert.match(readFileSync(logFile, 'utf8'), /got TERM/, 'SIGTERM came first');
});

test('a stale pid file is ignored and removed by stop', async () => {
  const pidFile = join(dir, 'stale.pid');
  writeFileSync(pidFile, '999999999\n');
  assert.equal(runningPid(pidFile, 'anything'), undefined);
  assert.equal(await stopProcess(pidFile, 'anything'), false);
  assert.ok(!existsSync(pidFile));
});
