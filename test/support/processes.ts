// Processes seen through Linux /proc: for "nothing left behind" tests and the soak's memory and decoder figures.
import { readdirSync, readFileSync } from 'node:fs';

// Whether a process still exists (signal 0 checks without signalling), for "nothing left behind" tests.
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
  /** /proc state letter: R, S, D, Z (exited, waiting to be reaped), … */
  state: string;
}

/** Every process of the machine (empty off Linux). */
export function processTable(): ProcEntry[] {
  if (process.platform !== 'linux') return [];
  const out: ProcEntry[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // comm may hold spaces and parentheses: it ends at the last ") ".
      const close = stat.lastIndexOf(') ');
      const fields = stat.slice(close + 2).split(' ');
      out.push({
        pid,
        ppid: Number(fields[1]),
        comm: stat.slice(stat.indexOf('(') + 1, close),
        state: fields[0] ?? '',
      });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The processes whose parent is `pid`, with their command names. */
export function childProcesses(pid: number): Array<{ pid: number; comm: string }> {
  return processTable()
    .filter((p) => p.ppid === pid)
    .map(({ pid, comm }) => ({ pid, comm }));
}

export interface ProcessMemory {
  /** VmRSS: the whole resident set. */
  rss: number;
  /** RssAnon: heaps and anonymous mappings (what an allocator holds). */
  anon: number;
  /** RssFile: mapped files resident (code, libraries, models). */
  file: number;
}

/** A process's resident memory in bytes, from /proc; undefined once it has gone. */
export function processMemory(pid: number): ProcessMemory | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (key: string) => Number(text.match(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm'))?.[1] ?? Number.NaN) * 1024;
  const memory = { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
  return Number.isNaN(memory.rss) ? undefined : memory;
}

/** Resident set of a process in bytes (VmRSS), or undefined once it has gone. */
export function rssBytes(pid: number): number | undefined {
  return processMemory(pid)?.rss;
}
