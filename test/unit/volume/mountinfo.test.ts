import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMountinfo, readMounts, subPathMounts } from '../../../src/volume/mountinfo.js';

// Lines as a container of a pod sees them: a whole configMap volume, and one key mounted with
// subPath (the kubelet bind-mounts it from its volume-subpaths directory).
const MOUNTINFO = [
  '1001 900 0:52 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/x',
  '1010 1001 253:1 /var/lib/kubelet/pods/5b1/volumes/kubernetes.io~configmap/config /etc/config ro,relatime - ext4 /dev/vda1 rw',
  '1011 1001 253:1 /var/lib/kubelet/pods/5b1/volume-subpaths/config/nginx/0 /etc/nginx/nginx.conf ro,relatime - ext4 /dev/vda1 rw',
  '1012 1001 253:1 /var/lib/kubelet/pods/5b1/volume-subpaths/tls/app/1 /etc/my\\040app/tls.crt ro - ext4 /dev/vda1 rw',
].join('\n');

describe('subPath detection', () => {
  const mounts = parseMountinfo(MOUNTINFO);

  it('parses mount points and roots, decoding escapes', () => {
    assert.equal(mounts.length, 4);
    assert.equal(mounts[3]!.mountPoint, '/etc/my app/tls.crt');
  });

  it('finds a watched file that is a subPath mount', () => {
    assert.deepEqual(subPathMounts(mounts, ['/etc/nginx/nginx.conf']), [
      { watched: '/etc/nginx/nginx.conf', mountPoint: '/etc/nginx/nginx.conf' },
    ]);
  });

  it('finds a subPath mount inside a watched directory', () => {
    assert.deepEqual(subPathMounts(mounts, ['/etc/my app']), [
      { watched: '/etc/my app', mountPoint: '/etc/my app/tls.crt' },
    ]);
  });

  it('does not flag a whole volume, or a path that only shares a prefix', () => {
    assert.deepEqual(subPathMounts(mounts, ['/etc/config', '/etc/ngin']), []);
  });

  it('reads the real mountinfo without failing', async () => {
    assert.ok((await readMounts()).some((m) => m.mountPoint === '/'));
    assert.deepEqual(await readMounts('/nonexistent/mountinfo'), []);
  });
});
