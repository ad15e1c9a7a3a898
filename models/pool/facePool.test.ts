import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const script = fileURLToPath(new URL('../../test/support/closePoolMidRequest.ts', import.meta.url));
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

test('closing a face pool while its threads are mid-request rejects those requests and exits cleanly', () => {
  const child = spawnSync(tsx, [script], { encoding: 'utf8', timeout: 120_000 });
  // Terminating a thread inside onnxruntime's or sharp's asynchronous work used to abort the process:
  // "terminate called after throwing an instance of 'Napi::Error'", exit 134.
  expect(child.stderr).not.toMatch(/terminate called/);
  expect({ status: child.status, signal: child.signal }).toEqual({ status: 0, signal: null });
  const outcomes = JSON.parse(child.stdout) as { completed: number; closed: number; other: number };
  expect(outcomes.other).toBe(0);
  expect(outcomes.closed).toBeGreaterThan(0);
  expect(outcomes.completed + outcomes.closed).toBe(24);
});
