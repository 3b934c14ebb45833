// What the manifest asks of an instance's persistent disk, and how orphaned disks are shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredDisk, orphanDiskView } from '../../../src/director/deploy/disk-manager.js';
import type { CloudConfig, InstanceGroup } from '../../../src/manifest/types.js';

const cloudConfig = { disk_types: [{ name: 'fast', disk_size: 4096, cloud_properties: { type: 'ssd' } }, { name: 'none', disk_size: 0 }] } as unknown as CloudConfig;
const group = (extra: Partial<InstanceGroup>) => ({ name: 'db', ...extra }) as InstanceGroup;

test('persistent_disk is a size in MB without cloud properties; 0 or absent means no disk', () => {
  assert.deepEqual(desiredDisk(group({ persistent_disk: 1024 }), cloudConfig), { size: 1024, cloudProperties: {} });
  assert.equal(desiredDisk(group({ persistent_disk: 0 }), cloudConfig), null);
  assert.equal(desiredDisk(group({}), cloudConfig), null);
});

test('persistent_disk_type takes size and cloud properties from cloud-config disk_types', () => {
  assert.deepEqual(desiredDisk(group({ persistent_disk_type: 'fast' }), cloudConfig), { size: 4096, cloudProperties: { type: 'ssd' } });
  assert.equal(desiredDisk(group({ persistent_disk_type: 'none' }), cloudConfig), null);
  assert.throws(() => desiredDisk(group({ persistent_disk_type: 'slow' }), cloudConfig), /Instance group 'db' references an unknown disk type 'slow'/);
});

test('an orphaned disk as GET /disks shows it: BOSH time format, cloud properties as an object', () => {
  const view = orphanDiskView({
    id: 1, disk_cid: 'disk-1', size: 2048, availability_zone: 'z1', deployment_name: 'db', instance_name: 'db/abc',
    cloud_properties_json: '{"type":"ssd"}', cpi: '', created_at: '2026-11-21T12:34:56.789Z',
  });
  assert.deepEqual(view, {
    disk_cid: 'disk-1', size: 2048, az: 'z1', deployment_name: 'db', instance_name: 'db/abc',
    cloud_properties: { type: 'ssd' }, orphaned_at: '2026-11-21 12:34:56 +0000',
  });
});
