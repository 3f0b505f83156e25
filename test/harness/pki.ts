// A certificate authority made for a test with openssl: a CA, a server certificate for
// 127.0.0.1 and localhost, a client certificate, and a second CA that signed nothing the server
// trusts. Files in a temporary directory; the PEM bytes too, for servers started in-process.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './atomic-writer.js';

export const OPENSSL = '/usr/bin/openssl';

export interface Pki {
  readonly dir: string;
  /** Paths of the PEM files. */
  readonly files: {
    readonly ca: string;
    readonly serverCert: string;
    readonly serverKey: string;
    readonly clientCert: string;
    readonly clientKey: string;
    readonly otherCa: string;
  };
  readonly pem: { readonly ca: Buffer; readonly serverCert: Buffer; readonly serverKey: Buffer };
}

const run = promisify(execFile);
/** A new P-256 key, unencrypted. */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run(OPENSSL, args, { cwd: dir, timeout: 30_000 });
}

/** A self-signed CA named `cn`: cn.key and cn.crt in `dir`. */
async function makeCa(dir: string, cn: string): Promise<void> {
  await openssl(
    dir,
    'req',
    '-x509',
    ...NEW_KEY,
    '-keyout',
    `${cn}.key`,
    '-out',
    `${cn}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
}

/** A key and a certificate for `cn`, signed by the CA `ca`, with `ext` (an extfile's lines). */
async function issue(dir: string, ca: string, cn: string, ext: string): Promise<void> {
  await openssl(
    dir,
    'req',
    ...NEW_KEY,
    '-keyout',
    `${cn}.key`,
    '-out',
    `${cn}.csr`,
    '-subj',
    `/CN=${cn}`,
  );
  await writeFile(path.join(dir, `${cn}.ext`), ext);
  await openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${cn}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${cn}.crt`,
    '-days',
    '2',
    '-extfile',
    `${cn}.ext`,
  );
}

export async function makePki(): Promise<Pki> {
  const dir = await makeTempDir('pki');
  await makeCa(dir, 'test-ca');
  await makeCa(dir, 'other-ca');
  await issue(
    dir,
    'test-ca',
    'server',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  await issue(dir, 'test-ca', 'hotreload-client', 'extendedKeyUsage=clientAuth\n');
  const f = (name: string) => path.join(dir, name);
  const files = {
    ca: f('test-ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('hotreload-client.crt'),
    clientKey: f('hotreload-client.key'),
    otherCa: f('other-ca.crt'),
  };
  return {
    dir,
    files,
    pem: {
      ca: await readFile(files.ca),
      serverCert: await readFile(files.serverCert),
      serverKey: await readFile(files.serverKey),
    },
  };
}
