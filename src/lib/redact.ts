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

/**
 * Text that should have been a URL but does not parse, for a message, with anything that may be
 * a credential masked: everything before the last `@` of what follows the scheme (a password may
 * hold `/`, `:` or `@`; a lone token is a username), and, without an `@`, anything after a `:` in
 * the authority that is not a port number (`http://user:pa` is what is left of a password that
 * held a comma when an environment list was split). The host may be masked with it; a credential
 * never shows.
 */
export function maskCredentials(text: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)?(.*)$/s.exec(text)!;
  const scheme = m[1] ?? '';
  const rest = m[2]!;
  const at = rest.lastIndexOf('@');
  if (at >= 0) return `${scheme}${REDACTED}@${rest.slice(at + 1)}`;
  const authority = /^[^/?#]*/.exec(rest)![0];
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || /^\d*$/.test(authority.slice(colon + 1))) return text;
  return `${scheme}${authority.slice(0, colon)}:${REDACTED}${rest.slice(authority.length)}`;
}
