// Renders a URL for logs, error messages and metric labels with its credentials masked, like Go's
// url.URL.Redacted. It only changes how a URL is shown, never the URL that is requested.

/** What replaces a password, or a username that stands alone (it may be a token). */
const REDACTED = 'xxxxx';

/**
 * The URL with any password replaced by `xxxxx` (`http://user:xxxxx@host/`). A username without
 * a password is masked too, because `https://TOKEN@host/` is a common way to pass a token.
 * Never throws: input that does not parse renders as `<invalid url>`.
 */
export function redactUrl(url: URL | string): string {
  try {
    const copy = new URL(String(url));
    if (copy.password !== '') copy.password = REDACTED;
    else if (copy.username !== '') copy.username = REDACTED;
    return copy.href;
  } catch {
    return '<invalid url>';
  }
}
