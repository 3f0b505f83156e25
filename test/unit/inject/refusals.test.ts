// What `hotreload inject` refuses, and how it says so: every problem is one line naming the file,
// the workload, where the value came from (the annotation or the flag) and the fix; values are
// checked by hotreload's own flag rules. Any problem refuses the whole run (cli.test.ts checks
// that nothing is written and the exit code is 1), and every problem is listed, not the first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { injectText } from '../../harness/inject.js';

const APP = {
  name: 'app',
  image: 'registry.example.com/app:1',
  volumeMounts: [{ name: 'config', mountPath: '/etc/app', readOnly: true }],
};
const CONFIG = { name: 'config', configMap: { name: 'app-config' } };
const HTTP = { 'hotreload.dev/http-url': 'http://127.0.0.1:8080/-/reload' };

function deployment(
  annotations: Record<string, unknown>,
  pod: Record<string, unknown> = {},
  kind = 'Deployment',
): string {
  const template = { spec: { containers: [APP], volumes: [CONFIG], ...pod } };
  return stringify({
    apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1',
    kind,
    metadata: { name: 'app', annotations },
    spec: kind === 'Job' ? { template } : { selector: { matchLabels: { a: 'b' } }, template },
  });
}

/** The one problem injecting `text` gives, without its `test.yaml: Deployment/app: ` prefix. */
function refusal(text: string, flags: Record<string, string | boolean | string[]> = {}): string {
  const result = injectText(text, flags);
  assert.equal(result.problems.length, 1, result.problems.join('\n'));
  const [problem] = result.problems;
  const prefix = /^test\.yaml: (Deployment|Job)\/app: /;
  assert.match(problem!, prefix);
  return problem!.replace(prefix, '');
}

describe('inject refuses, naming the workload, the value and the fix', () => {
  it('a watched volume mounted with subPath: Kubernetes never updates it', () => {
    const subPath = {
      containers: [
        {
          ...APP,
          volumeMounts: [{ name: 'config', mountPath: '/etc/app/app.yaml', subPath: 'app.yaml' }],
        },
      ],
    };
    const expected =
      'volume config is mounted with subPath in container app (at /etc/app/app.yaml): a subPath mount never receives updates (kubernetes#50345); mount the whole volume (a mountPath without subPath), or name the volumes to watch without it in hotreload.dev/watch';
    assert.equal(refusal(deployment(HTTP, subPath)), expected);
    assert.equal(
      refusal(deployment({ ...HTTP, 'hotreload.dev/watch': 'config' }, subPath)),
      expected,
    );
  });

  it('a subPathExpr mount too', () => {
    const pod = {
      containers: [
        {
          ...APP,
          volumeMounts: [{ name: 'config', mountPath: '/etc/app', subPathExpr: '$(POD_NAME)' }],
        },
      ],
    };
    assert.match(refusal(deployment(HTTP, pod)), /^volume config is mounted with subPath/);
  });

  it('no volume to watch, when the workload asks for hotreload', () => {
    assert.equal(
      refusal(deployment(HTTP, { containers: [{ name: 'app', image: 'a' }], volumes: [] })),
      'no configMap, secret or projected volume is mounted by a container: nothing to watch; mount the ConfigMap or Secret in a container, or name the volumes in hotreload.dev/watch',
    );
  });

  it('an unknown volume name in hotreload.dev/watch, listing the pod volumes', () => {
    assert.equal(
      refusal(deployment({ ...HTTP, 'hotreload.dev/watch': 'conf' })),
      'annotation hotreload.dev/watch: no volume named "conf" in the pod; its volumes are config',
    );
  });

  it('an unknown volume name given by --watch names the flag', () => {
    assert.equal(
      refusal(deployment(HTTP), { watch: ['cfg'] }),
      '--watch: no volume named "cfg" in the pod; its volumes are config',
    );
  });

  it('a volume no container mounts, without a path to mount it at', () => {
    assert.equal(
      refusal(
        deployment(
          { ...HTTP, 'hotreload.dev/watch': 'config,tls' },
          { volumes: [CONFIG, { name: 'tls', secret: { secretName: 'tls' } }] },
        ),
      ),
      'annotation hotreload.dev/watch: volume tls is mounted by no container, so inject does not know where it belongs; give its path: tls=/etc/tls',
    );
  });

  it('a relative path to mount a volume at', () => {
    assert.match(
      refusal(deployment({ ...HTTP, 'hotreload.dev/watch': 'config=etc/app' })),
      /^annotation hotreload\.dev\/watch: "config=etc\/app": the path to mount config at must be absolute/,
    );
  });

  it('two watched volumes at one path', () => {
    const pod = {
      containers: [
        APP,
        { name: 'b', image: 'b', volumeMounts: [{ name: 'other', mountPath: '/etc/app' }] },
      ],
      volumes: [CONFIG, { name: 'other', configMap: { name: 'o' } }],
    };
    assert.equal(
      refusal(deployment(HTTP, pod)),
      'volumes config and other would both be mounted at /etc/app in hotreload; give one another path: other=/PATH',
    );
  });

  it('nothing that says how to tell the application, listing the annotations to add', () => {
    assert.equal(
      refusal(deployment({})),
      'nothing says how to tell the application of a change; add an annotation (or the flag of the same name): hotreload.dev/http-url: URL, hotreload.dev/signal: HUP with hotreload.dev/process-name: NAME (or process-match: REGEX), hotreload.dev/restart: "true" with hotreload.dev/process-name: NAME, hotreload.dev/exit: "0", hotreload.dev/config: PATH (a rules file); or hotreload.dev/inject: "false" to leave it out',
    );
  });

  describe('a bad annotation value, by the rules of the flag it becomes', () => {
    const cases: [string, Record<string, unknown>, string | RegExp][] = [
      [
        'a signal that is not one',
        { 'hotreload.dev/signal': 'HUPP', 'hotreload.dev/process-name': 'app' },
        /^annotation hotreload\.dev\/signal: invalid value for --signal: "HUPP"; expected a signal name or number such as HUP/,
      ],
      [
        'a signal without a target process',
        { 'hotreload.dev/signal': 'HUP' },
        /^annotation hotreload\.dev\/signal: invalid value for --signal: "HUP"; it needs a target process: give --process-name, --process-match or --pid-file/,
      ],
      [
        'a process-match that is not a regular expression',
        { 'hotreload.dev/signal': 'HUP', 'hotreload.dev/process-match': '(' },
        /^annotation hotreload\.dev\/process-match: invalid value for --process-match: "\("; not a valid regular expression/,
      ],
      [
        'an http-url that is not http',
        { 'hotreload.dev/http-url': 'ftp://127.0.0.1/reload' },
        /^annotation hotreload\.dev\/http-url: invalid value for --http-url: /,
      ],
      [
        'an exit code above 255',
        { 'hotreload.dev/exit': '300' },
        'annotation hotreload.dev/exit: invalid value for --exit: "300"; expected an exit code from 0 to 255, or no value for 0',
      ],
      [
        'restart and signal together',
        {
          'hotreload.dev/restart': 'true',
          'hotreload.dev/signal': 'HUP',
          'hotreload.dev/process-name': 'app',
        },
        /^annotation hotreload\.dev\/restart: invalid value for --restart: "true"; a restart makes the reload by --signal moot/,
      ],
      [
        'a boolean that is neither "true" nor "false"',
        { ...HTTP, 'hotreload.dev/native-sidecar': 'maybe' },
        'annotation hotreload.dev/native-sidecar: "maybe"; expected "true" or "false"',
      ],
      [
        'a value that is not a string (YAML 1.1 reads an unquoted yes as true, as kubectl does)',
        { ...HTTP, 'hotreload.dev/native-sidecar': 'YAML_YES' },
        'annotation hotreload.dev/native-sidecar: true is not a string; annotation values are strings: quote it (hotreload.dev/native-sidecar: "true")',
      ],
      [
        'an unknown hotreload.dev annotation, with the one meant',
        { ...HTTP, 'hotreload.dev/wacth': 'config' },
        /^unknown annotation hotreload\.dev\/wacth \(did you mean hotreload\.dev\/watch\?\); the annotations are hotreload\.dev\/inject, hotreload\.dev\/watch, /,
      ],
      [
        'an unknown flag in hotreload.dev/args',
        { ...HTTP, 'hotreload.dev/args': '--validat' },
        'annotation hotreload.dev/args: unknown flag --validat (did you mean --validate?)',
      ],
      [
        'a bad value of a flag in hotreload.dev/args',
        { ...HTTP, 'hotreload.dev/args': '--verify-url=nope' },
        /^annotation hotreload\.dev\/args: invalid value for --verify-url: "nope"/,
      ],
      [
        'a flag inject sets itself, in hotreload.dev/args',
        { ...HTTP, 'hotreload.dev/args': '--listen=:8080' },
        'annotation hotreload.dev/args: --listen is not for hotreload.dev/args: the sidecar listens on :9533, where its probes and port point',
      ],
      [
        '--watch by an alias in hotreload.dev/args',
        { ...HTTP, 'hotreload.dev/args': '--volume-dir=/etc/app' },
        'annotation hotreload.dev/args: --watch is not for hotreload.dev/args: inject sets --watch from hotreload.dev/watch',
      ],
      [
        'a child command in hotreload.dev/args',
        { ...HTTP, 'hotreload.dev/args': '--\nnginx' },
        "annotation hotreload.dev/args: a command after -- runs the application as hotreload's child, which a sidecar cannot; leave it out",
      ],
      [
        'a rules file with a rule flag beside it',
        {
          'hotreload.dev/config': '/etc/app/rules.yaml',
          'hotreload.dev/args': '--validate',
        },
        /^annotation hotreload\.dev\/args: invalid value for --validate: true; with --config, rule settings go in the file/,
      ],
      [
        'a rules file on no volume hotreload mounts',
        { 'hotreload.dev/config': '/etc/hotreload/rules.yaml' },
        "annotation hotreload.dev/config: /etc/hotreload/rules.yaml is on no volume hotreload mounts; add the rules file's volume with its path to hotreload.dev/watch, e.g. rules=/etc/hotreload",
      ],
      [
        'a target container that does not exist',
        {
          'hotreload.dev/signal': 'HUP',
          'hotreload.dev/process-name': 'a',
          'hotreload.dev/container': 'web',
        },
        'annotation hotreload.dev/container: no container named "web"; the containers are app',
      ],
    ];
    for (const [what, annotations, expected] of cases) {
      it(`refuses ${what}`, () => {
        const problem = refusal(deployment(annotations).replace('YAML_YES', 'yes'));
        if (typeof expected === 'string') assert.equal(problem, expected);
        else assert.match(problem, expected);
      });
    }
  });

  it('a bad value given by a flag names the flag', () => {
    assert.match(
      refusal(deployment({}), { signal: 'HUPP', 'process-name': 'app' }),
      /^--signal: invalid value for --signal: "HUPP"/,
    );
  });

  it("a port of the pod's that hotreload would take", () => {
    const pod = { containers: [{ ...APP, ports: [{ name: 'metrics', containerPort: 9533 }] }] };
    assert.equal(
      refusal(deployment(HTTP, pod)),
      'container app has port 9533 (metrics); hotreload listens on 9533 and names its port hotreload: move that port',
    );
  });

  it('a volume named hotreload-state that is not an emptyDir', () => {
    const pod = { volumes: [CONFIG, { name: 'hotreload-state', configMap: { name: 'x' } }] };
    assert.match(
      refusal(deployment(HTTP, pod)),
      /^the pod has a volume named hotreload-state that is not an emptyDir/,
    );
  });

  it('a regular sidecar asked for in a pod that runs to completion', () => {
    assert.equal(
      refusal(
        deployment(
          { ...HTTP, 'hotreload.dev/native-sidecar': 'false' },
          { restartPolicy: 'Never' },
          'Job',
        ),
      ),
      'annotation hotreload.dev/native-sidecar: this pod runs to completion, and a regular sidecar container would keep it running for ever; leave it out (hotreload is added as a native sidecar)',
    );
  });

  it('a pod spec without containers', () => {
    assert.match(refusal(deployment(HTTP, { containers: [] })), /^its pod spec has no containers/);
  });

  it('YAML that does not parse, with its line and column', () => {
    const result = injectText('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n');
    assert.equal(result.problems.length, 1);
    assert.match(result.problems[0]!, /^test\.yaml: .* at line \d+, column \d+/);
  });

  it('a duplicate key, as kubectl does', () => {
    const result = injectText('apiVersion: v1\nkind: ConfigMap\nkind: Secret\n');
    assert.match(result.problems.join('\n'), /^test\.yaml: Map keys must be unique/);
  });

  it('lists every problem of every workload, not only the first', () => {
    const text = [
      deployment({ 'hotreload.dev/watch': 'nope' }),
      deployment(HTTP).replace('name: app\n', 'name: good\n'),
      deployment({
        ...HTTP,
        'hotreload.dev/signal': 'HUP',
        'hotreload.dev/restart': 'maybe',
      }).replace('name: app\n', 'name: third\n'),
    ].join('---\n');
    const result = injectText(text);
    assert.deepEqual(
      result.problems.map((p) => p.split(': ').slice(0, 2).join(': ')),
      ['test.yaml: Deployment/app', 'test.yaml: Deployment/third'],
    );
  });
});
