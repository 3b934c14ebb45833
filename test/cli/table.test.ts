import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vmsTable } from '../../src/cli/renderers/instances.js';
import { renderTable } from '../../src/cli/renderers/table.js';
import { JsonUi, TextUi } from '../../src/cli/ui.js';

const vm = (id: string, ips: string[], job_state = 'running') => ({
  vm_cid: `cid-${id}`,
  active: true,
  ips,
  agent_id: `agent-${id}`,
  job_name: 'nginx',
  index: 0,
  id,
  az: 'z1',
  job_state,
  vm_type: 'small',
});

test('vms table: bosh columns, rows sorted by instance, multi-IP cells wrap, footer counts VMs', () => {
  const table = vmsTable('nginx', [vm('bbb', ['10.245.0.3', '10.245.0.4']), vm('aaa', ['10.245.0.2'])]);
  const text = renderTable(table).split('\n').map((l) => l.trimEnd()).join('\n');
  assert.equal(
    text,
    [
      "Deployment 'nginx'",
      '',
      'Instance   Process State  AZ  IPs         VM CID   VM Type  Active',
      'nginx/aaa  running        z1  10.245.0.2  cid-aaa  small    true',
      'nginx/bbb  running        z1  10.245.0.3  cid-bbb  small    true',
      '                              10.245.0.4',
      '',
      '2 vms',
      '',
    ].join('\n'),
  );
});

test('empty cells print as -', () => {
  const text = renderTable({ content: 'vms', header: ['Instance', 'AZ'], rows: [['nginx/x', '']] });
  assert.match(text, /^nginx\/x\s+-\s*$/m);
});

test('text UI pads a table from the lines before it, and "Succeeded" from the table', () => {
  let out = '';
  const sink = { write: (s: string) => (out += s) };
  const ui = new TextUi(sink, sink);
  ui.printLine("Using environment 'https://127.0.0.1:25555' as user 'admin'");
  ui.beginLine('Task 5');
  ui.endLine('. Done');
  ui.printTable(vmsTable('nginx', [vm('aaa', ['10.245.0.2'])]));
  ui.printLine('Succeeded');
  const lines = out.split('\n').map((l) => l.trimEnd());
  assert.deepEqual(lines.slice(0, 5), ["Using environment 'https://127.0.0.1:25555' as user 'admin'", '', 'Task 5. Done', '', "Deployment 'nginx'"]);
  assert.deepEqual(lines.slice(-5), ['', '1 vms', '', 'Succeeded', '']);
});

test('--json output has bosh shape: Tables with Content, Header and Rows keyed by header, plus Lines', () => {
  let out = '';
  const ui = new JsonUi({ write: (s: string) => (out += s) });
  ui.printLine('Using environment');
  ui.printTable(vmsTable('nginx', [vm('aaa', ['10.245.0.2', '10.245.0.9'])]));
  ui.flush();
  const doc = JSON.parse(out);
  assert.deepEqual(doc.Tables[0], {
    Content: 'vms',
    Header: { active: 'Active', az: 'AZ', instance: 'Instance', ips: 'IPs', process_state: 'Process State', vm_cid: 'VM CID', vm_type: 'VM Type' },
    Rows: [{ active: 'true', az: 'z1', instance: 'nginx/aaa', ips: '10.245.0.2\n10.245.0.9', process_state: 'running', vm_cid: 'cid-aaa', vm_type: 'small' }],
    Notes: null,
  });
  assert.deepEqual(doc.Lines, ['Using environment']);
  assert.equal(doc.Blocks, null);
  assert.match(out, /^\{\n {4}"Tables": \[/);
});

test('on a terminal, states that need attention are red; padding stays aligned', () => {
  const table = vmsTable('nginx', [vm('aaa', ['10.245.0.2'], 'failing'), vm('bbb', ['10.245.0.3'])]);
  const text = renderTable(table, { color: true });
  const lines = text.split('\n');
  assert.equal(lines[3], 'nginx/aaa  \x1b[31mfailing      \x1b[0m  z1  10.245.0.2  cid-aaa  small    true    ');
  assert.equal(lines[4], 'nginx/bbb  running        z1  10.245.0.3  cid-bbb  small    true    ');
  assert.doesNotMatch(renderTable(table), /\x1b/);
});
