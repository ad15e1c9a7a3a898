// What went wrong during the soak, by kind, and the HTTP calls whose answers are checked. Every failure is
// counted; the first few of each kind are kept word for word for the report.

export type ErrorKind =
  | 'http' // a non-2xx (or no answer) where a 2xx was expected
  | 'answer' // a 2xx whose content is wrong (a /rec name, an enrolment's status)
  | 'server log' // a server log line at level error or fatal
  | 'socket' // a Socket.IO connection error, refused subscription, or the always-connected client dropped
  | 'camera' // a camera that left 'live' without being killed, or did not come back
  | 'shutdown'; // the server did not stop cleanly

const KEPT_PER_KIND = 5;
const HTTP_TIMEOUT_MS = 60_000;

export class Tally {
  private readonly counts = new Map<ErrorKind, number>();
  private readonly examples = new Map<ErrorKind, string[]>();

  error(kind: ErrorKind, message: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    const kept = this.examples.get(kind) ?? [];
    if (kept.length < KEPT_PER_KIND) kept.push(`${new Date().toISOString()} ${message}`);
    this.examples.set(kind, kept);
  }

  total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** "http 2, answer 1", or "none". */
  summary(): string {
    const parts = [...this.counts].map(([kind, n]) => `${kind} ${n}`);
    return parts.length === 0 ? 'none' : parts.join(', ');
  }

  details(): string[] {
    return [...this.examples].flatMap(([kind, lines]) => lines.map((l) => `  [${kind}] ${l}`));
  }
}

export interface Answer {
  status: number;
  /** The parsed JSON body, undefined when the body was empty or not JSON. */
  json: unknown;
  /** The body as text, for text/* answers. */
  text: string | undefined;
  bytes: number;
  contentType: string;
  ms: number;
}

/**
 * One HTTP call. An answer with a status other than `expect`, or none at all, is counted as an 'http' error under
 * `what` and returns undefined.
 */
export async function call(
  tally: Tally,
  base: string,
  what: string,
  init: { method?: string; path: string; json?: unknown; expect: number },
): Promise<Answer | undefined> {
  const started = performance.now();
  try {
    const res = await fetch(`${base}${init.path}`, {
      method: init.method ?? 'GET',
      ...(init.json === undefined
        ? {}
        : { body: JSON.stringify(init.json), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    const body = Buffer.from(await res.arrayBuffer());
    const contentType = res.headers.get('content-type') ?? '';
    let json: unknown;
    if (contentType.includes('json') && body.length > 0) json = JSON.parse(body.toString('utf8'));
    const text = contentType.startsWith('text/') ? body.toString('utf8') : undefined;
    const answer = { status: res.status, json, text, bytes: body.length, contentType, ms: performance.now() - started };
    if (res.status !== init.expect) {
      tally.error(
        'http',
        `${what}: ${init.method ?? 'GET'} ${init.path} answered ${res.status} ${body.toString('utf8').slice(0, 300)}`,
      );
      return undefined;
    }
    return answer;
  } catch (err) {
    tally.error('http', `${what}: ${init.method ?? 'GET'} ${init.path} failed: ${(err as Error).message}`);
    return undefined;
  }
}
