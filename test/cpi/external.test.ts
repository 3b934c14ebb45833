import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpiError, ExternalCpi } from '../../src/cpi/external.js';
import { createLogger } from '../../src/common/logging.js';

let dir: string;

/** A CPI executable that records each request and answers from a table of canned responses. */
function fakeCpi(name: string, responses: Record<string, unknown>): string {
  const path = join(dir, name);
  const requests = join(dir, `${name}.requests`);
  writeFileSync(
    path,
    `#!${process.execPath}
const fs = require('fs');
const input = fs.readFileSync(0, 'utf8');
fs.appendFileSync(${JSON.stringify(requests)}, JSON.stringify({ line: input, env: Object.keys(process.env).sort() }) + '\\n');
const req = JSON.parse(input);
const responses = ${JSON.stringify(responses)};
process.stderr.write('debug output');
process.stdout.write(typeof responses[req.method] === 'string' ? responses[req.method] : JSON.stringify(responses[req.method]));
`,
    { mode: 0o755 },
  );
  return path;
}

function requestsOf(name: string): Array<{ line: string; env: string[] }> {
  return readFileSync(join(dir, `${name}.requests`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

const logger = createLogger('external-cpi', undefined, 'warn');

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'capstan-external-cpi-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('speaks the CPI protocol: info first, then one JSON request line per call', async () => {
  const exe = fakeCpi('good', {
    info: { result: { api_version: 2, stemcell_formats: ['warden-tar'] }, error: null, log: '' },
    create_vm: { result: ['vm-1', { default: {} }], error: null, log: 'created' },
    has_vm: { result: true, error: null, log: '' },
  });
  const cpi = new ExternalCpi({ executable: exe, directorUuid: 'dir-uuid', properties: { region: 'x' }, logger });
  const vmCid = await cpi.createVm('agent-1', 'sc-1', { ram: 1 }, { default: { ip: '10.0.0.2' } }, [], { bosh: {} });
  assert.equal(vmCid, 'vm-1');
  assert.equal(await cpi.hasVm('vm-1'), true);

  const [info, createVm] = requestsOf('good');
  assert.equal(JSON.parse(info.line).method, 'info');
  assert.ok(createVm.line.endsWith('\n') && !createVm.line.trimEnd().includes('\n'), 'a single line');
  const request = JSON.parse(createVm.line);
  assert.equal(request.method, 'create_vm');
  assert.deepEqual(request.arguments, ['agent-1', 'sc-1', { ram: 1 }, { default: { ip: '10.0.0.2' } }, [], { bosh: {} }]);
  assert.equal(request.api_version, 2);
  assert.equal(request.context.director_uuid, 'dir-uuid');
  assert.equal(request.context.region, 'x');
  assert.match(request.context.request_id, /^cpi-\d{6}$/);
  assert.deepEqual(createVm.env.filter((k) => !['PWD', 'SHLVL', '_'].includes(k)), ['HOME', 'PATH', 'TMPDIR']);
});

test('turns CPI errors and invalid responses into CpiError', async () => {
  const exe = fakeCpi('bad', {
    info: { result: { api_version: 2, stemcell_formats: [] }, error: null, log: '' },
    delete_vm: { result: null, error: { type: 'Bosh::Clouds::VMNotFound', message: 'VM vm-9 not found', ok_to_retry: false }, log: '' },
    has_vm: 'not json',
    reboot_vm: { result: null, error: null },
  });
  const cpi = new ExternalCpi({ executable: exe, directorUuid: 'u', logger });
  await assert.rejects(cpi.deleteVm('vm-9'), (err: CpiError) => err.type === 'Bosh::Clouds::VMNotFound' && /VM vm-9 not found/.test(err.message));
  await assert.rejects(cpi.hasVm('vm-9'), /Invalid CPI response/);
  await assert.rejects(cpi.rebootVm('vm-9'), /Invalid CPI response - reboot_vm/);
});

test('speaks API version 1 to a CPI that reports no version: create_vm answers a cid, attach_disk may answer nothing', async () => {
  const exe = fakeCpi('old', {
    info: { result: { stemcell_formats: [] }, error: null, log: '' },
    create_vm: { result: 'vm-old', error: null, log: '' },
    attach_disk: { result: null, error: null, log: '' },
  });
  const cpi = new ExternalCpi({ executable: exe, directorUuid: 'u', logger });
  assert.equal((await cpi.info()).api_version, 1);
  assert.equal(await cpi.createVm('a', 's', {}, {}, [], {}), 'vm-old');
  assert.equal(await cpi.attachDisk('vm-old', 'disk-1'), null);
  assert.equal(JSON.parse(requestsOf('old').at(-1)!.line).api_version, 1);
});

test('API version 2: create_vm must answer [vm_cid, networks] and attach_disk a hint', async () => {
  const exe = fakeCpi('v2', {
    info: { result: { api_version: 3, stemcell_formats: [] }, error: null, log: '' },
    create_vm: { result: 'just-a-cid', error: null, log: '' },
    attach_disk: { result: null, error: null, log: '' },
  });
  const cpi = new ExternalCpi({ executable: exe, directorUuid: 'u', logger });
  assert.equal((await cpi.info()).api_version, 2, 'the lower of the CPI\'s and the director\'s');
  await assert.rejects(cpi.createVm('a', 's', {}, {}, [], {}), /API version 2 needs \[vm_cid, networks\]/);
  await assert.rejects(cpi.attachDisk('vm', 'disk'), /API version 2 needs a disk hint/);
});

test('create_vm on API version 2 returns the networks the CPI answers', async () => {
  const exe = fakeCpi('nets', {
    info: { result: { api_version: 2, stemcell_formats: [] }, error: null, log: '' },
    create_vm: { result: ['vm-2', { default: { type: 'dynamic', ip: '10.0.0.9' } }], error: null, log: '' },
  });
  const cpi = new ExternalCpi({ executable: exe, directorUuid: 'u', logger });
  const created = await cpi.createVmWithNetworks('a', 's', {}, { default: { type: 'dynamic' } }, [], {});
  assert.deepEqual(created, { vmCid: 'vm-2', networks: { default: { type: 'dynamic', ip: '10.0.0.9' } } });
});

test("an unknown method is NotImplemented; a CPI that hangs is killed after the call's timeout", async () => {
  const exe = fakeCpi('partial', {
    info: { result: { api_version: 2, stemcell_formats: [] }, error: null, log: '' },
    reboot_vm: { result: null, error: { type: 'InvalidCall', message: "Method is not known, got 'reboot_vm'", ok_to_retry: false }, log: '' },
  });
  const cpi = new ExternalCpi({ executable: exe, directorUuid: 'u', logger });
  await assert.rejects(cpi.rebootVm('vm'), (err: CpiError) => err.type === 'Bosh::Clouds::NotImplemented');

  const hanging = join(dir, 'hanging');
  writeFileSync(hanging, '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
  const log: string[] = [];
  const slow = new ExternalCpi({ executable: hanging, directorUuid: 'u', logger, timeoutMs: 300, cpiLog: (t) => log.push(t) });
  await assert.rejects(slow.info(), /CPI 'info' did not answer within 0.3 s/);
  assert.match(log.join(''), /timed out after 300 ms, killed/);
});

test("the CPI log gets each request and response, the CPI's stderr and log, without secrets", async () => {
  const exe = fakeCpi('logging', {
    info: { result: { api_version: 2, stemcell_formats: [] }, error: null, log: 'info log line' },
    set_vm_metadata: { result: null, error: null, log: 'password: hunter2' },
  });
  const lines: string[] = [];
  const cpi = new ExternalCpi({ executable: exe, directorUuid: 'u', logger, properties: { secret_access_key: 'AKIA-SECRET' } }).withCpiLog((t) =>
    lines.push(t),
  );
  await cpi.setVmMetadata('vm-1', { name: 'web/0' });
  const log = lines.join('');
  assert.match(log, /\[external-cpi\] \[cpi-\d{6}\] request: \{"method":"info"/);
  assert.match(log, /request: \{"method":"set_vm_metadata","arguments":\["vm-1",\{"name":"web\/0"\}\]/);
  assert.match(log, /stderr:\ndebug output/);
  assert.match(log, /log:\ninfo log line/);
  assert.match(log, /response: \{"result":null,"error":null\}, elapsed: \d+ ms/);
  assert.doesNotMatch(log, /hunter2|AKIA-SECRET/);
});
