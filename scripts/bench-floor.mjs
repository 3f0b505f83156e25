// The floor `npm run bench` measures hotreload against: the smallest Node program that does
// hotreload's job, written the obvious way. It watches each directory with one fs.watch; for a
// kubelet volume, when `..data` is renamed, it hashes the new generation (sha256 of every key's
// name and bytes, read synchronously) and POSTs to the URL if the hash changed; for a plain
// directory (--plain) it hashes the file the event names. Node's global agent keeps the connection
// alive. No flags, no logs, no metrics, no retries, no error handling beyond not crashing: what a
// reloader cannot do with less. Plain JavaScript, so it runs on any Node without a build.
//
// Usage: node bench-floor.mjs [--plain] URL DIR...   (prints "ready" once every watch is set)
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, watch } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// node:http through require(), as hotreload's bundle loads it: an `import` of node:http makes
// Node read every export, and http.WebSocket loads Node's own copy of undici (11 MiB of RSS and
// 45 ms of start-up on Node 24). The floor is the smallest program, so it does not pay for it.
const { request } = createRequire(import.meta.url)('node:http');

const args = process.argv.slice(2);
const plain = args[0] === '--plain';
const [url, ...dirs] = plain ? args.slice(1) : args;

function post() {
  const req = request(url, { method: 'POST' }, (res) => res.resume());
  req.on('error', () => {});
  req.end();
}

function hashFile(file) {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return '';
  }
}

function hashGeneration(dir) {
  const generation = path.join(dir, '..data');
  const hash = createHash('sha256');
  try {
    for (const name of readdirSync(generation).sort()) {
      hash.update(`${name}\0`).update(readFileSync(path.join(generation, name)));
    }
  } catch {
    // The generation was replaced while it was read: the next rename's event reads the new one.
  }
  return hash.digest('hex');
}

function watchVolume(dir) {
  let last = hashGeneration(dir);
  watch(dir, (_event, name) => {
    if (name !== '..data') return;
    const now = hashGeneration(dir);
    if (now !== last) {
      last = now;
      post();
    }
  });
}

function watchPlain(dir) {
  const hashes = new Map();
  for (const name of readdirSync(dir)) hashes.set(name, hashFile(path.join(dir, name)));
  watch(dir, (_event, name) => {
    if (!name) return;
    const now = hashFile(path.join(dir, name));
    if (now !== hashes.get(name)) {
      hashes.set(name, now);
      post();
    }
  });
}

for (const dir of dirs) (plain ? watchPlain : watchVolume)(dir);
console.log('ready');
