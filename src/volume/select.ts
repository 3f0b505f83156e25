// --include / --exclude: which files of a watch path count. A file counts when it matches an
// --include glob (or none is given) and no --exclude glob. Globs are matched against the path
// relative to the watch path (a watched file: its name); one without a slash matches the name at
// any depth, as in .gitignore (`*.yaml` is a.yaml and conf.d/b.yaml). Dot files match too.
// It reads nothing; the fingerprint drops what does not count, so it never changes a snapshot,
// a change log line or a validation.
import path from 'node:path';
import picomatch from 'picomatch';

/** Whether `file` (absolute, under `watchPath`) counts. */
export type FileFilter = (watchPath: string, file: string) => boolean;

/** The filter of `selection` (--include, --exclude); undefined when it keeps everything. */
export function fileFilter(selection: {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}): FileFilter | undefined {
  if (selection.include.length === 0 && selection.exclude.length === 0) return undefined;
  const include = matcher(selection.include);
  const exclude = matcher(selection.exclude);
  return (watchPath, file) => {
    const rel = path.relative(watchPath, file) || path.basename(file);
    return (include === undefined || include(rel)) && !exclude?.(rel);
  };
}

function matcher(globs: readonly string[]): ((rel: string) => boolean) | undefined {
  if (globs.length === 0) return undefined;
  const tests = globs.map((g) => picomatch(g, { dot: true, basename: !g.includes('/') }));
  return (rel) => tests.some((t) => t(rel));
}
