// Parses the URL options (--http-url, --verify-url): absolute http(s) URLs only, and an error
// message that never shows a password.
import { ConfigError } from '../lib/errors.js';
import { maskCredentials, redactUrl } from '../lib/redact.js';

/** An absolute http(s) URL, or a ConfigError naming `flag`. */
export function httpUrl(value: string, flag = 'http-url'): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      flag,
      maskCredentials(value),
      'expected an absolute http:// or https:// URL, e.g. http://127.0.0.1:8080/-/reload (in a password, write / as %2F, : as %3A, @ as %40 and , as %2C)',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(flag, redactUrl(url), 'only http:// and https:// URLs are supported');
  }
  return url;
}
