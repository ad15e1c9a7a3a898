// Small statistics and measurements shared by the benchmark scripts.
import { readdirSync, readFileSync } from 'node:fs';

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux; undefined elsewhere or once it has
 * exited). With `withChildren`, its descendants' too (a browser's renderer and GPU processes, say).
 */
export function cpuSeconds(pid: number, withChildren = false): number | undefined {
  if (process.platform !== 'linux') return undefined;
  const stat = (p: number): { ppid: number; seconds: number } | undefined => {
    try {
      const text = readFileSync(`/proc/${p}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces): state, ppid, …, utime (14th), stime (15th).
      const fields = text.slice(text.lastIndexOf(') ') + 2).split(' ');
      return { ppid: Number(fields[1]), seconds: (Number(fields[11]) + Number(fields[12])) / 100 }; // USER_HZ 100
    } catch {
      return undefined;
    }
  };
  const own = stat(pid);
  if (!own || !withChildren) return own?.seconds;
  const parents = new Map<number, number>();
  const seconds = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p)) continue;
    const s = stat(p);
    if (s) {
      parents.set(p, s.ppid);
      seconds.set(p, s.seconds);
    }
  }
  const descends = (p: number): boolean => {
    for (let at = parents.get(p); at !== undefined && at > 1; at = parents.get(at)) if (at === pid) return true;
    return false;
  };
  let total = own.seconds;
  for (const [p, s] of seconds) if (descends(p)) total += s;
  return total;
}

/** A plain-text table with right-aligned columns. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
