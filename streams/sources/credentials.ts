// Credentials in camera URLs: kept out of every line that is stored, logged or shown.

/**
 * `rtsp://user:pass@host/x` → `rtsp://***@host/x`, for every URL in the text. ffmpeg prints its input URL in its
 * own error lines, so every stderr line goes through this before it is kept, logged or shown.
 */
export function redactUrl(text: string): string {
  // Greedy up to the authority's last '@': a raw '@' inside a password ("admin:p@ss@host") is hidden too.
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/]+@/gi, '$1***@');
}

/** The user-info of a URL, raw and percent-decoded, to scrub wherever it might appear on its own. */
export function secretsOf(input: string): string[] {
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^\s/]+)@/i.exec(input)?.[1];
  if (!userinfo) return [];
  const colon = userinfo.indexOf(':');
  const parts = colon < 0 ? [userinfo] : [userinfo, userinfo.slice(0, colon), userinfo.slice(colon + 1)];
  const secrets = new Set<string>();
  for (const part of parts) {
    if (part.length < 3) continue; // scrubbing "a" or "ad" would mangle every line
    secrets.add(part);
    try {
      secrets.add(decodeURIComponent(part));
    } catch {
      // not valid percent-encoding: the raw form is enough
    }
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}

export function scrub(line: string, secrets: readonly string[]): string {
  let out = redactUrl(line);
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
