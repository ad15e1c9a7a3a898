// Run after every test file (vitest setupFiles): the file must leave no process of its own behind (ffmpeg, the
// RTSP test server, Chromium, …). One left running would load the machine for the files after it, whose timing
// then fails for no fault of theirs. Processes get a few seconds to finish exiting.
import { afterAll } from 'vitest';
import { type ProcEntry, processTable } from './processes.ts';

/** esbuild's service process is vitest's own (kept for the whole run), not a test's. */
const OURS_NOT = /^esbuild$/;

type Proc = Pick<ProcEntry, 'pid' | 'comm'>;

/** Descendants of this process (Linux /proc; empty elsewhere). */
export function descendants(root = process.pid): Proc[] {
  const byParent = new Map<number, Proc[]>();
  for (const { pid, ppid, comm, state } of processTable()) {
    if (state === 'Z') continue; // exited, waiting to be reaped
    byParent.set(ppid, [...(byParent.get(ppid) ?? []), { pid, comm }]);
  }
  const out: Proc[] = [];
  const walk = (pid: number) => {
    for (const child of byParent.get(pid) ?? []) {
      out.push(child);
      walk(child.pid);
    }
  };
  walk(root);
  return out;
}

afterAll(async () => {
  const deadline = Date.now() + 10_000;
  let left = descendants().filter((p) => !OURS_NOT.test(p.comm));
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    left = descendants().filter((p) => !OURS_NOT.test(p.comm));
  }
  if (left.length > 0) {
    throw new Error(`this test file left processes running: ${left.map((p) => `${p.comm} (${p.pid})`).join(', ')}`);
  }
}, 15_000);
