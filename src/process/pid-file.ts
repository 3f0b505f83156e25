// Reads the process id an application wrote to its pid file; it does not check that the
// process exists (selection does).
import { ReloadError, messageOf } from '../lib/errors.js';

const HINT =
  'the pid file must be on a volume shared with the application container (e.g. an emptyDir ' +
  'mounted in both) and hold only the process id';
/** Characters of a garbled pid file shown in the message. */
const SHOWN_CHARS = 40;

/** The positive integer in the file at `file`, surrounding whitespace ignored; E_PID_FILE otherwise. */
export async function readPidFile(
  file: string,
  readFile: (p: string) => Promise<string>,
): Promise<number> {
  let text: string;
  try {
    text = await readFile(file);
  } catch (err) {
    throw new ReloadError('E_PID_FILE', `cannot read pid file ${file}: ${messageOf(err)}`, {
      cause: err,
      hint: HINT,
    });
  }
  const trimmed = text.trim();
  const pid = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isSafeInteger(pid) || pid < 1) {
    const shown = JSON.stringify(trimmed.slice(0, SHOWN_CHARS));
    throw new ReloadError('E_PID_FILE', `pid file ${file} does not hold a process id: ${shown}`, {
      hint: HINT,
    });
  }
  return pid;
}
