// `hotreload inject`'s command line (runInject) with recording streams: files and stdin in, the
// manifests out, notes and problems on stderr, and its exit codes: 0 written, 1 refused with
// nothing written, 2 a usage error (an unknown flag, a flag without its value).
import assert from 'node:assert/strict';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { runInject } from '../../../src/inject/cli.js';
import { FIXTURES_DIR, IMAGE, fixture, injectText, objectsOf } from '../../harness/inject.js';

async function run(argv: string[], stdin = '', isTTY = false) {
  let stdout = '';
  let stderr = '';
  const input = Object.assign(Readable.from([Buffer.from(stdin)]), { isTTY });
  const code = await runInject(
    argv,
    {
      stdin: input,
      stdout: {
        write: (t: string, done: (err?: Error | null) => void) => {
          stdout += t;
          done();
        },
      },
      stderr: { write: (t: string) => (stderr += t) },
    },
    IMAGE,
  );
  return { code, stdout, stderr };
}

const file = (name: string) => path.join(FIXTURES_DIR, name);

describe('hotreload inject: the command line', () => {
  it('reads stdin when no file is given, and writes what inject() gives', async () => {
    const r = await run([], fixture('nginx.yaml'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, injectText(fixture('nginx.yaml'), {}, '<stdin>').output);
    assert.equal(r.stderr, '');
  });

  it('reads stdin for -, between files, in the order given', async () => {
    const r = await run([file('list.yaml'), '-', file('prometheus.yaml')], fixture('nginx.yaml'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      objectsOf(r.stdout).map((o) => [o.kind, o.metadata?.name]),
      [
        ['List', undefined],
        ['Deployment', 'nginx'],
        ['Deployment', 'prometheus'],
      ],
    );
  });

  it('the flags apply to every workload, and win over annotations', async () => {
    const r = await run([
      '--image',
      'mirror.example/hotreload:9',
      '--args=--validate',
      file('nginx.yaml'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /image: mirror\.example\/hotreload:9/);
    assert.match(r.stdout, /- --validate\n/);
    assert.doesNotMatch(r.stdout, /- --verify-children\n/);
  });

  it('--watch and --http-url take comma-separated lists, and repeat', async () => {
    const r = await run(
      [
        '--http-url',
        'http://127.0.0.1:1/a,http://127.0.0.1:2/b',
        '--http-url=http://127.0.0.1:3/c',
      ],
      fixture('prometheus.yaml'),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.match(/- --http-url=/g)?.length, 3);
  });

  it('writes notes on stderr, never on stdout', async () => {
    const once = await run([file('nginx.yaml')]);
    const again = await run([], once.stdout);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, once.stdout);
    assert.equal(
      again.stderr,
      'hotreload inject: <stdin>: Deployment/nginx: already has hotreload (container hotreload); left as it is\n',
    );
  });

  it('refuses the whole run on any problem: exit 1, nothing on stdout, every problem on stderr', async () => {
    const bad = fixture('nginx.yaml').replace(
      'hotreload.dev/signal: HUP',
      'hotreload.dev/signal: HUPP',
    );
    const r = await run([file('prometheus.yaml'), '-'], bad);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^hotreload inject: <stdin>: Deployment\/nginx: annotation hotreload\.dev\/signal: invalid value for --signal: "HUPP"; /,
    );
    assert.match(r.stderr, /\nhotreload inject: refused \(1 problem\); nothing written\n$/);
  });

  it('a file that cannot be read is exit 1, naming it', async () => {
    const r = await run([file('no-such-file.yaml')]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^hotreload inject: cannot read .*no-such-file\.yaml: ENOENT\n$/);
  });

  describe('usage errors: exit 2, nothing read or written', () => {
    const cases: [string, string[], RegExp][] = [
      [
        'an unknown flag',
        ['--namespace', 'x'],
        /^hotreload inject: unknown flag --namespace; the flags are --watch VALUE, --http-url VALUE, /,
      ],
      ['an annotation-only setting as a flag', ['--inject'], /unknown flag --inject/],
      ['a flag without its value', ['--signal'], /--signal needs a value: --signal VALUE/],
      ['an empty value', ['--image='], /--image needs a value: --image IMAGE/],
      [
        'a value that starts with a dash, without =',
        ['--args', '--validate'],
        /the value of --args starts with a dash: write it --args=VALUE/,
      ],
      ['a value given to a switch', ['--restart=yes'], /--restart is a switch and takes no value/],
      ['stdin twice', ['-', '-'], /stdin \(-\) can be read once/],
    ];
    for (const [what, argv, message] of cases) {
      it(`refuses ${what}`, async () => {
        const r = await run(argv);
        assert.equal(r.code, 2);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, message);
        assert.match(r.stderr, /Run 'hotreload inject --help' for usage\.\n$/);
      });
    }

    it('refuses to wait on a terminal for stdin', async () => {
      const r = await run([], '', true);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /give manifest files, or pipe them in/);
    });
  });

  it('prints its usage on --help: every flag, and the default image', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: hotreload inject \[FLAGS\] \[FILE\.\.\.\]/);
    for (const flag of [
      '--watch',
      '--http-url',
      '--signal',
      '--process-name',
      '--process-match',
      '--restart',
      '--exit',
      '--config',
      '--container',
      '--native-sidecar',
      '--args',
      '--image',
    ])
      assert.match(r.stdout, new RegExp(`^  ${flag}\\b`, 'm'));
    assert.match(r.stdout, new RegExp(`default ${IMAGE.replace(/[.]/g, '\\.')}`));
  });
});
