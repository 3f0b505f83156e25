// `hotreload inject` as a pure function: manifests (texts) and the flags in; the manifests with
// the hotreload sidecar added to each workload, the notes for stderr, and the problems that
// refuse the run out. Documents it does not change come out byte for byte as they came in;
// a workload that already has hotreload is one of them, so injecting twice is injecting once.
import { at, list, record, type Container, type PodSpec } from './pod.js';
import {
  applyPlan,
  renderDocument,
  splitDocuments,
  workloadsOf,
  type Workload,
} from './documents.js';
import { checkArgs, sidecarArgs } from './hotreload-args.js';
import { ANNOTATION_PREFIX, asksForHotreload, resolveSettings, type Settings } from './settings.js';
import { planSidecar, SIDECAR_NAME } from './sidecar.js';
import { watchedVolumes } from './volumes.js';

export interface InjectOptions {
  /** The settings the flags of `inject` give, for every workload. */
  readonly flags: Settings;
  /** The image when no flag or annotation names one. */
  readonly defaultImage: string;
}

export interface Input {
  /** For messages: the file, or `<stdin>`. */
  readonly name: string;
  readonly text: string;
}

export interface InjectResult {
  /** Every input's documents, in order; meaningful only when there are no problems. */
  readonly output: string;
  /** What was left as it is, and why; what the manifest cannot tell. One line each. */
  readonly notes: readonly string[];
  /** Why the run is refused, one line each, naming the file, the workload and the fix. */
  readonly problems: readonly string[];
}

/** What to add so hotreload knows how to tell the application. */
const ACTION_HELP = [
  `${ANNOTATION_PREFIX}http-url: URL`,
  `${ANNOTATION_PREFIX}signal: HUP with ${ANNOTATION_PREFIX}process-name: NAME (or process-match: REGEX)`,
  `${ANNOTATION_PREFIX}restart: "true" with ${ANNOTATION_PREFIX}process-name: NAME`,
  `${ANNOTATION_PREFIX}exit: "0"`,
  `${ANNOTATION_PREFIX}config: PATH (a rules file)`,
].join(', ');

export function inject(inputs: readonly Input[], options: InjectOptions): InjectResult {
  const notes: string[] = [];
  const problems: string[] = [];
  const parts: string[] = [];
  for (const input of inputs) {
    const split = splitDocuments(input.text);
    problems.push(...split.problems.map((p) => `${input.name}: ${p}`));
    if (split.problems.length > 0) continue;
    const texts = split.documents.map(({ doc, text }, i) => {
      const first = parts.length === 0 && i === 0;
      let changed = false;
      for (const w of workloadsOf(doc)) {
        const say = (line: string) => `${input.name}: ${w.label}: ${line}`;
        const outcome = injectWorkload(w, options);
        notes.push(...outcome.notes.map(say));
        problems.push(...outcome.problems.map(say));
        if (outcome.plan) {
          applyPlan(doc, w, outcome.plan);
          changed = true;
        }
      }
      return changed ? renderDocument(doc, first) : text;
    });
    parts.push(joinable(texts.join(''), parts.length > 0));
  }
  return { output: parts.join(''), notes, problems };
}

/** An input's text after another's: on a line of its own, and a document of its own. */
function joinable(text: string, after: boolean): string {
  const ended = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return after && !/^---(\s|$)/.test(ended) ? `---\n${ended}` : ended;
}

interface Outcome {
  readonly plan?: ReturnType<typeof planSidecar>['plan'];
  readonly notes: readonly string[];
  readonly problems: readonly string[];
}

/**
 * One workload, in order:
 * 1. its settings: annotations (the workload's, then its pod template's) under the flags;
 * 2. left as it is: hotreload.dev/inject "false", or hotreload already there;
 * 3. the volumes to watch; none found unasked is a note, none found when asked a problem;
 * 4. hotreload's flags, built and checked as hotreload checks them;
 * 5. the sidecar planned against the pod (placement, UID, volumes, ports).
 */
function injectWorkload(w: Workload, options: InjectOptions): Outcome {
  const templatePath = [...w.specPath.slice(0, -1), 'metadata', 'annotations'];
  const podAnnotations = record(at(w.object, templatePath));
  // 1.
  const { settings, problems } = resolveSettings(
    options.flags,
    record(at(w.object, ['metadata', 'annotations'])),
    podAnnotations,
  );
  if (problems.length > 0) return { notes: [], problems };
  // 2.
  if (settings.inject?.value === false)
    return { notes: [`${settings.inject.from}: "false"; left as it is`], problems: [] };
  const spec = record(at(w.object, w.specPath)) as PodSpec;
  if (list<Container>(spec.containers).length === 0) {
    // A patch (kustomize) or a half-written manifest: a problem only when it asks for hotreload.
    return asksForHotreload(settings)
      ? { notes: [], problems: ['its pod spec has no containers; give it its containers first'] }
      : { notes: ['its pod spec has no containers; left as it is'], problems: [] };
  }
  const image = (settings.image?.value as string | undefined) ?? options.defaultImage;
  const present = existingHotreload(spec, [image, options.defaultImage]);
  if (present)
    return { notes: [`already has hotreload (container ${present}); left as it is`], problems: [] };
  // 3.
  const watched = watchedVolumes(spec, settings.watch);
  if (watched.problems.length > 0) return { notes: [], problems: watched.problems };
  if (watched.volumes.length === 0 && !settings.config) {
    const none = 'no configMap, secret or projected volume is mounted by a container';
    if (!settings.watch && !asksForHotreload(settings))
      return { notes: [`${none}; nothing to watch, left as it is`], problems: [] };
    return {
      notes: [],
      problems: [
        `${none}: nothing to watch; mount the ConfigMap or Secret in a container, or name the volumes in ${ANNOTATION_PREFIX}watch`,
      ],
    };
  }
  // 4.
  const args = sidecarArgs(settings, watched.volumes);
  const checked = checkArgs(args, settings.args);
  if (!checked.ok) {
    const problem = checked.noAction
      ? `nothing says how to tell the application of a change; add an annotation (or the flag of the same name): ${ACTION_HELP}; or ${ANNOTATION_PREFIX}inject: "false" to leave it out`
      : checked.problem;
    return { notes: [], problems: [problem] };
  }
  if (settings.config) {
    const file = settings.config.value as string;
    if (!watched.volumes.some((v) => file.startsWith(`${v.mountPath.replace(/\/$/, '')}/`)))
      return {
        notes: [],
        problems: [
          `${settings.config.from}: ${file} is on no volume hotreload mounts; add the rules file's volume with its path to ${ANNOTATION_PREFIX}watch, e.g. rules=${file.slice(0, file.lastIndexOf('/')) || '/'}`,
        ],
      };
  }
  // 5.
  const { options: raw } = checked;
  const planned = planSidecar({
    kind: String(w.object.kind),
    spec,
    podAnnotations,
    settings,
    image,
    args: args.map((a) => a.text),
    watched: watched.volumes,
    stateFile: raw['state-file'] !== undefined,
    processAction: raw.signal !== undefined || raw.restart === true,
  });
  return { plan: planned.plan, notes: planned.plan?.notes ?? [], problems: planned.problems };
}

/** The name of a container that already runs hotreload: by name, by image, or by command. */
function existingHotreload(spec: PodSpec, images: readonly string[]): string | undefined {
  const repositories = new Set(images.map(repositoryOf));
  const all = [...list<Container>(spec.initContainers), ...list<Container>(spec.containers)];
  const found = all.find(
    (c) =>
      c.name === SIDECAR_NAME ||
      (typeof c.image === 'string' && repositories.has(repositoryOf(c.image))) ||
      /(^|\/)hotreload$/.test(String(list<unknown>(c.command)[0])),
  );
  return found && String(found.name);
}

/** An image reference without its tag or digest: `ghcr.io/hotreload/hotreload`. */
function repositoryOf(image: string): string {
  const bare = image.split('@')[0]!;
  const slash = bare.lastIndexOf('/');
  const colon = bare.lastIndexOf(':');
  return colon > slash ? bare.slice(0, colon) : bare;
}
