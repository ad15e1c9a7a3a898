// Whether a process still exists (signal 0 checks without signalling), for "nothing left behind" tests.
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
