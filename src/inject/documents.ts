// Manifests as YAML documents, through the yaml package's Document API so comments and layout
// survive: a stream split into its documents (each with its exact source text, written back
// untouched when nothing changes), the workloads in a document (itself, or a List's items), and a
// plan applied to a workload's pod spec. It reads YAML as kubectl does: 1.1 (`0640` is octal).
import {
  isMap,
  isSeq,
  parseAllDocuments,
  YAMLSeq,
  type Document,
  type Node,
  type ParsedNode,
} from 'yaml';
import { at, podSpecPath, record } from './pod.js';
import type { Plan } from './sidecar.js';

export interface SourceDocument {
  readonly doc: Document.Parsed<ParsedNode>;
  /** The document's text as given, with the comments and markers around it. */
  readonly text: string;
}

export interface Workload {
  /** From the document's root to the workload: [] or ['items', i]. */
  readonly prefix: readonly (string | number)[];
  /** From the workload to its pod spec. */
  readonly specPath: readonly string[];
  readonly object: Readonly<Record<string, unknown>>;
  /** `Deployment/nginx`, and `(List item 2)` inside a List. */
  readonly label: string;
}

/**
 * The documents of `text`, or the YAML errors (`line:col message`). Each document's text runs
 * from the end of the previous one, so the texts put together are the input exactly.
 */
export function splitDocuments(text: string): { documents: SourceDocument[]; problems: string[] } {
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: true, prettyErrors: true });
  const problems = docs.flatMap((d) => d.errors.map((e) => e.message.split('\n')[0]!));
  const documents: SourceDocument[] = [];
  let from = 0;
  docs.forEach((doc, i) => {
    const to = i === docs.length - 1 ? text.length : doc.range[2];
    documents.push({ doc, text: text.slice(from, to) });
    from = to;
  });
  return { documents, problems };
}

/** The workloads a document holds: itself, or the items of a `kind: List`. */
export function workloadsOf(doc: Document): Workload[] {
  const root = record(doc.toJS({ maxAliasCount: 100 }));
  if (root.kind === 'List' && Array.isArray(root.items)) {
    return root.items.flatMap((item: unknown, i: number) => {
      const w = workload(record(item), ['items', i]);
      return w ? [{ ...w, label: `${w.label} (List item ${i + 1})` }] : [];
    });
  }
  const w = workload(root, []);
  return w ? [w] : [];
}

function workload(
  object: Readonly<Record<string, unknown>>,
  prefix: readonly (string | number)[],
): Workload | undefined {
  const specPath = podSpecPath(object);
  if (!specPath) return undefined;
  const name = at(object, ['metadata', 'name']);
  const label = `${String(object.kind)}/${typeof name === 'string' ? name : '(no name)'}`;
  return { prefix, specPath, object, label };
}

/**
 * Adds the plan's sidecar and pod changes to the workload's pod spec in `doc`: the container at
 * the end of containers (or initContainers), the volumes at the end of volumes, and
 * shareProcessNamespace: true; a list that did not exist is created.
 */
export function applyPlan(doc: Document, w: Workload, plan: Plan): void {
  const spec = [...w.prefix, ...w.specPath];
  const container = doc.createNode(plan.container);
  // `drop: [ALL]`, as the examples write it.
  const drop = container.getIn(['securityContext', 'capabilities', 'drop']);
  if (isSeq(drop)) drop.flow = true;
  append(doc, [...spec, plan.native ? 'initContainers' : 'containers'], container);
  for (const v of plan.volumes) append(doc, [...spec, 'volumes'], doc.createNode(v));
  if (plan.shareProcessNamespace) {
    const specNode = doc.getIn(spec);
    if (isMap(specNode)) specNode.set('shareProcessNamespace', true);
  }
}

function append(doc: Document, path: readonly (string | number)[], node: Node): void {
  const seq = doc.getIn(path);
  if (isSeq(seq)) {
    // A flow list (`volumes: []`) would print the new block of mappings on one line.
    seq.flow = false;
    seq.items.push(node);
  } else {
    const created = new YAMLSeq();
    created.items.push(node);
    doc.setIn(path, created);
  }
}

/** A changed document's text: `---` first unless it is the stream's first, and no line folding. */
export function renderDocument(doc: Document, first: boolean): string {
  if (!first) doc.directives!.docStart = true;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
