// CPI conformance: the same behaviour, through the same Cpi interface, from every implementation on
// this machine — dummy, docker (skipped only without a Docker engine), and the external adapter driving
// a CPI executable over the JSON protocol at API versions 2 and 1.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CpiError, CpiErrorType } from '../../src/cpi/cpi.js';
import { IMPLEMENTATIONS, type CpiUnderTest } from './support/implementations.js';

const UNKNOWN_VM = 'vm-00000000-0000-4000-8000-000000000000';
const UNKNOWN_DISK = 'disk-00000000-0000-4000-8000-000000000000';

function cpiError(type: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof CpiError, `expected a CpiError, got ${String(err)}`);
    assert.equal(err.type, type);
    if (message) assert.match(err.message, message);
    return true;
  };
}

for (const impl of IMPLEMENTATIONS) {
  describe(`CPI conformance: ${impl.name}`, { skip: impl.skip }, () => {
    let t: CpiUnderTest;
    let stemcellCid: string;
    const vms: string[] = [];
    const disks: string[] = [];

    const createVm = async (agentId: string) => {
      const cid = await t.cpi.createVm(agentId, stemcellCid, {}, t.networks(vms.length), [], { bosh: { group: 'conformance' } });
      vms.push(cid);
      return cid;
    };
    const createDisk = async (vmCid: string | null) => {
      const cid = await t.cpi.createDisk(1024, {}, vmCid);
      disks.push(cid);
      return cid;
    };

    before(async () => {
      t = await impl.setup();
      stemcellCid = await t.cpi.createStemcell(t.image, {});
    });

    after(async () => {
      if (!t) return;
      for (const cid of vms) await t.cpi.deleteVm(cid).catch(() => {});
      for (const cid of disks) await t.cpi.deleteDisk(cid).catch(() => {});
      await t.cpi.deleteStemcell(stemcellCid).catch(() => {});
      await t.cleanup();
    });

    test('info names the stemcell formats and an API version', async () => {
      const info = await t.cpi.info();
      assert.ok(info.stemcell_formats.length > 0);
      assert.ok((info.api_version ?? 1) >= 1);
    });

    test('a stemcell can be created and deleted (twice), and a VM needs an existing one', async () => {
      const cid = await t.cpi.createStemcell(t.image, { some: 'property' });
      assert.equal(typeof cid, 'string');
      assert.notEqual(cid, stemcellCid);
      await t.cpi.deleteStemcell(cid);
      await t.cpi.deleteStemcell(cid);
      await assert.rejects(
        t.cpi.createVm('agent-no-stemcell', cid, {}, t.networks(99), [], {}),
        cpiError(CpiErrorType.VMCreationFailed, /Stemcell '.*' not found/),
      );
    });

    test('a VM exists from create_vm to delete_vm; deleting it again is fine', async () => {
      const vmCid = await createVm('agent-lifecycle');
      assert.equal(typeof vmCid, 'string');
      assert.equal(await t.cpi.hasVm(vmCid), true);
      await t.cpi.setVmMetadata(vmCid, { director: 'capstan', deployment: 'd', name: 'web/0', index: '0' });
      await t.cpi.deleteVm(vmCid);
      assert.equal(await t.cpi.hasVm(vmCid), false);
      await t.cpi.deleteVm(vmCid);
    });

    test('unknown VMs: has_vm is false, metadata and disk calls raise VMNotFound', async () => {
      assert.equal(await t.cpi.hasVm(UNKNOWN_VM), false);
      await assert.rejects(t.cpi.setVmMetadata(UNKNOWN_VM, { name: 'x' }), cpiError(CpiErrorType.VMNotFound));
      await assert.rejects(t.cpi.getDisks(UNKNOWN_VM), cpiError(CpiErrorType.VMNotFound));
      const disk = await createDisk(null);
      await assert.rejects(t.cpi.attachDisk(UNKNOWN_VM, disk), cpiError(CpiErrorType.VMNotFound));
    });

    test('a disk is created, attached (with a hint), listed, detached and deleted', async () => {
      const vmCid = await createVm('agent-disks');
      const diskCid = await createDisk(vmCid);
      assert.equal(await t.cpi.hasDisk(diskCid), true);
      assert.deepEqual(await t.cpi.getDisks(vmCid), []);

      const hint = await t.cpi.attachDisk(vmCid, diskCid);
      assert.ok(hint !== null && hint !== '' && (typeof hint === 'string' || Object.keys(hint).length > 0), 'a disk hint');
      assert.deepEqual(await t.cpi.getDisks(vmCid), [diskCid]);
      assert.equal(await t.cpi.hasVm(vmCid), true, 'the VM is still there after attaching');
      assert.deepEqual(await t.cpi.attachDisk(vmCid, diskCid), hint, 'attaching again gives the same hint');

      await t.cpi.detachDisk(vmCid, diskCid);
      assert.deepEqual(await t.cpi.getDisks(vmCid), []);
      await assert.rejects(t.cpi.detachDisk(vmCid, diskCid), cpiError(CpiErrorType.DiskNotAttached));

      await t.cpi.setDiskMetadata(diskCid, { deployment: 'd', instance_group: 'web' });
      await t.cpi.deleteDisk(diskCid);
      assert.equal(await t.cpi.hasDisk(diskCid), false);
      await t.cpi.deleteDisk(diskCid);
    });

    test('unknown disks: has_disk is false, attach raises DiskNotFound', async () => {
      const vmCid = await createVm('agent-unknown-disk');
      assert.equal(await t.cpi.hasDisk(UNKNOWN_DISK), false);
      await assert.rejects(t.cpi.attachDisk(vmCid, UNKNOWN_DISK), cpiError(CpiErrorType.DiskNotFound));
    });

    test('resize_disk resizes or says NotImplemented (the director then migrates)', async () => {
      const diskCid = await createDisk(null);
      try {
        await t.cpi.resizeDisk(diskCid, 2048);
      } catch (err) {
        cpiError(CpiErrorType.NotImplemented)(err);
      }
    });

    test('withCpiLog gives a view of the CPI that logs its calls', async () => {
      const lines: string[] = [];
      const logged = t.cpi.withCpiLog!((text) => lines.push(text));
      const vmCid = await logged.createVm('agent-logged', stemcellCid, {}, t.networks(vms.length), [], {});
      vms.push(vmCid);
      assert.match(lines.join(''), /vm created/);
      assert.equal(await t.cpi.hasVm(vmCid), true, 'the same cloud');
    });

    if (impl.name.startsWith('external')) {
      test('the CPI log of each call is captured with secrets redacted', async () => {
        const vmCid = await t.cpi.createVm('agent-log', stemcellCid, {}, t.networks(vms.length), [], {
          bosh: { mbus: { cert: { ca: 'CA', certificate: 'CERT', private_key: 'SECRET-KEY' } }, password: 'SECRET-PW' },
        });
        vms.push(vmCid);
        const log = t.cpiLog!.join('');
        assert.match(log, /\[external-cpi\] \[cpi-\d{6}\] request: \{"method":"create_vm"/);
        assert.match(log, /response: \{"result":/);
        assert.match(log, /vm created/, "the CPI's own log");
        assert.doesNotMatch(log, /SECRET-KEY|SECRET-PW/);
      });
    }
  });
}
