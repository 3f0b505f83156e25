// Drives `hotreload inject` (src/inject/) the way the tests need it: on a manifest's text or a
// fixture of test/fixtures/inject/, with the flags of the command line as settings, and reads
// what it writes back as kubectl would (YAML 1.1). It checks nothing itself.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { parseAllDocuments } from 'yaml';
import { inject, type InjectResult } from '../../src/inject/inject.js';
import type { Settings } from '../../src/inject/settings.js';
import type { K8sObject } from './examples.js';
import { podSpecOf } from './examples.js';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/inject/', import.meta.url));
export const IMAGE = 'ghcr.io/hotreload/hotreload:0.1.0';

export function fixture(name: string): string {
  return readFileSync(`${FIXTURES_DIR}${name}`, 'utf8');
}

/** Flags of `hotreload inject` as settings: `{ signal: 'HUP' }` is `--signal HUP`. */
export function flags(given: Record<string, string | boolean | string[]>): Settings {
  return Object.fromEntries(
    Object.entries(given).map(([k, value]) => [k, { value, from: `--${k}` }]),
  );
}

/** inject() on one text, named `name` in messages. */
export function injectText(
  text: string,
  given: Record<string, string | boolean | string[]> = {},
  name = 'test.yaml',
): InjectResult {
  return inject([{ name, text }], { flags: flags(given), defaultImage: IMAGE });
}

/** The objects of a YAML stream, read as kubectl reads them (YAML 1.1); empty documents skipped. */
export function objectsOf(text: string): K8sObject[] {
  return parseAllDocuments(text, { version: '1.1' })
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null && o !== undefined);
}

/** The container named `name` in a workload's pod (init containers too), or undefined. */
export function containerOf(object: K8sObject, name: string): IContainer | undefined {
  const spec = podSpecOf(object);
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find(
    (c) => c.name === name,
  );
}
