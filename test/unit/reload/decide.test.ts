// The rules of the reload loop, as tables: whether a target is told now (decide), and whether it
// may hold older content at start (decideAtStart).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { START_MARGIN_MS } from '../../../src/process/table.js';
import {
  decide,
  decideAtStart,
  type Decision,
  type DeliveryState,
  type StartDecision,
  type StartFacts,
} from '../../../src/reload/decide.js';

const known = (delivered: string | undefined): DeliveryState => ({
  delivered,
  uncertain: false,
  pending: undefined,
  gaveUp: undefined,
});

describe('decide: is this target told about the content now?', () => {
  const rows: [
    string,
    { content: string; rejected?: string; resync?: boolean },
    DeliveryState,
    Decision,
  ][] = [
    ['it holds the content', { content: 'A' }, known('A'), { act: false, why: 'in-sync' }],
    ['new content', { content: 'B' }, known('A'), { act: true, attempt: 1, why: 'new-content' }],
    [
      'nothing known yet (start)',
      { content: 'A' },
      known(undefined),
      { act: true, attempt: 1, why: 'new-content' },
    ],
    [
      'a rollback to the last success after a failed attempt (thanos#5324)',
      { content: 'A' },
      { ...known('A'), uncertain: true },
      { act: true, attempt: 1, why: 'state-unknown' },
    ],
    [
      'the same content after a failed attempt, its retry not due',
      { content: 'B' },
      { ...known('A'), uncertain: true, pending: { content: 'B', attempt: 1, due: false } },
      { act: false, why: 'retry-scheduled' },
    ],
    [
      'its retry is due',
      { content: 'B' },
      { ...known('A'), uncertain: true, pending: { content: 'B', attempt: 3, due: true } },
      { act: true, attempt: 4, why: 'retry' },
    ],
    [
      'newer content than the one being retried',
      { content: 'C' },
      { ...known('A'), uncertain: true, pending: { content: 'B', attempt: 3, due: false } },
      { act: true, attempt: 1, why: 'new-content' },
    ],
    [
      'content refused by validation',
      { content: 'B', rejected: 'B' },
      known('A'),
      { act: false, why: 'rejected' },
    ],
    [
      'content refused by validation, even when the state is unknown',
      { content: 'B', rejected: 'B' },
      { ...known('A'), uncertain: true },
      { act: false, why: 'rejected' },
    ],
    [
      'refused content is not the content now',
      { content: 'C', rejected: 'B' },
      known('A'),
      { act: true, attempt: 1, why: 'new-content' },
    ],
    [
      'content given up on, an event that changed nothing',
      { content: 'B' },
      { ...known('A'), uncertain: true, gaveUp: 'B' },
      { act: false, why: 'gave-up' },
    ],
    [
      'content given up on, a resync',
      { content: 'B', resync: true },
      { ...known('A'), uncertain: true, gaveUp: 'B' },
      { act: true, attempt: 1, why: 'resync' },
    ],
    [
      'a rollback after giving up on newer content',
      { content: 'A' },
      { ...known('A'), uncertain: true, gaveUp: 'B' },
      { act: true, attempt: 1, why: 'state-unknown' },
    ],
    [
      'a resync of content it holds',
      { content: 'A', resync: true },
      known('A'),
      { act: false, why: 'in-sync' },
    ],
  ];
  for (const [what, now, state, expected] of rows) {
    it(what, () => {
      assert.deepEqual(
        decide(
          { content: now.content, rejected: now.rejected, resync: now.resync ?? false },
          state,
        ),
        expected,
      );
    });
  }
});

describe('decideAtStart: may the target hold older content than what is mounted?', () => {
  const base: StartFacts = {
    content: 'B',
    writtenAt: 10_000,
    stored: undefined,
    reloadOnStart: false,
    holderSince: undefined,
    changedDuringPod: false,
  };
  const rows: [string, Partial<StartFacts>, StartDecision][] = [
    ['--state-file holds the content', { stored: 'B' }, { deliver: false, why: 'state-file' }],
    [
      '--state-file holds the content, with --reload-on-start: the file is the authority',
      { stored: 'B', reloadOnStart: true },
      { deliver: false, why: 'state-file' },
    ],
    [
      '--state-file holds other content',
      { stored: 'A' },
      { deliver: true, why: 'state-file-differs' },
    ],
    [
      '--state-file says the last attempt failed',
      { stored: null },
      { deliver: true, why: 'state-file-unknown' },
    ],
    ['--reload-on-start', { reloadOnStart: true }, { deliver: true, why: 'reload-on-start' }],
    [
      'the process started after the content was written',
      { holderSince: 10_000 + START_MARGIN_MS + 1 },
      { deliver: false, why: 'started-after-content' },
    ],
    [
      'the process started just after the write, within the margin',
      { holderSince: 10_000 + START_MARGIN_MS },
      { deliver: true, why: 'started-before-content' },
    ],
    [
      'the process started before the content was written (a change before the first look)',
      { holderSince: 5_000 },
      { deliver: true, why: 'started-before-content' },
    ],
    ['no process runs', { holderSince: 'idle' }, { deliver: false, why: 'not-running' }],
    [
      'an HTTP endpoint, content written during the pod',
      { changedDuringPod: true },
      { deliver: true, why: 'changed-during-pod' },
    ],
    [
      'an HTTP endpoint, content as the pod started with it',
      { changedDuringPod: false },
      { deliver: false, why: 'older-than-pod' },
    ],
    [
      'a process seen wins over the pod rule',
      { holderSince: 20_000, changedDuringPod: true },
      { deliver: false, why: 'started-after-content' },
    ],
  ];
  for (const [what, facts, expected] of rows) {
    it(what, () => assert.deepEqual(decideAtStart({ ...base, ...facts }), expected));
  }
});
