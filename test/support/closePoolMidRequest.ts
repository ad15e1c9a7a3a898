// Run as a child process by models/pool/facePool.test.ts: closes a real face pool while its threads are in the
// middle of requests (onnxruntime and sharp working). A regression aborts this process (exit 134) rather than
// failing an assertion, which is why it runs apart from the test runner's own process.
import { readFile } from 'node:fs/promises';
import { defaultFacePoolSettings, FacePool } from '../../models/pool/facePool.ts';
import { SCENES } from './testdata.ts';

const photos = await Promise.all(SCENES.map((path) => readFile(path)));
const outcomes = { completed: 0, closed: 0, other: 0 };
for (const closeAfterFirst of [true, false]) {
  const pool = await FacePool.start({ ...defaultFacePoolSettings(2), maxQueue: 64 });
  const requests = Array.from({ length: 12 }, (_, i) =>
    pool.analyzeEncoded(photos[i % photos.length]!, 4_000_000).then(
      () => 'completed' as const,
      (err: Error) => (err.name === 'PoolClosedError' ? ('closed' as const) : ('other' as const)),
    ),
  );
  // Closing after the first answer catches the other thread mid-request; closing at once catches both.
  if (closeAfterFirst) await Promise.race(requests);
  await pool.close();
  for (const outcome of await Promise.all(requests)) outcomes[outcome]++;
}
process.stdout.write(`${JSON.stringify(outcomes)}\n`);
