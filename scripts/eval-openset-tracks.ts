// `npm run eval:openset:tracks`: track-level open-set identification on the LFW dev photos. See --help.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FacePool } from '../models/pool/facePool.ts';
import { DEFAULT_MATCH_FPIR } from '../server/config.ts';
import { LFW_DEV_DIR } from '../test/support/testdata.ts';
import { numberArg } from './args.ts';
import { evaluateOpenSetTracks } from './openSetTracks.ts';
import { textTable } from './stats.ts';

const HELP = `Usage: npm run eval:openset:tracks [-- options]

Plays clips built from LFW dev photos through the real stream pipeline (file camera, worker pool, tracker)
against a real facebank, and counts what the person events say. Gallery: identities with ≥ 3 photos, enrolled
with their first 2; a gallery track shows their next photos in a row at the same place; a stranger track shows
the photos of an identity with fewer than 3. The bar: no stranger named in any event, every enrolled person
named. Each track takes 3–4 s of real time.

Options:
  --dir PATH         LFW images folder (default ../shared/testdata/lfw-dev/images)
  --people N         gallery people shown (default 15)
  --strangers N      strangers shown (default 15)
  --gallery N        enrol only N people (always including those shown; default: all with ≥ 3 photos)
  --threshold T      a fixed cosine threshold (default: derived from FPIR ${DEFAULT_MATCH_FPIR} at the gallery size,
                     as the server does)
  --json             the report as JSON on stdout
  -h, --help         this text
`;

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    people: { type: 'string' },
    strangers: { type: 'string' },
    gallery: { type: 'string' },
    threshold: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const workDir = await mkdtemp(join(tmpdir(), 'facerec-openset-tracks-'));
const pool = await FacePool.start({
  provider: 'cpu',
  size: 2,
  intraOpThreads: 1,
  maxQueue: 4096,
  embedder: 'mobilefacenet',
});
try {
  const report = await evaluateOpenSetTracks({
    imagesDir: resolve(args.dir ?? join(LFW_DEV_DIR, 'images')),
    workDir,
    pool,
    threshold: args.threshold === undefined ? undefined : numberArg('threshold', args.threshold),
    fpir: DEFAULT_MATCH_FPIR,
    people: args.people ? numberArg('people', args.people, { integer: true }) : 15,
    strangers: args.strangers ? numberArg('strangers', args.strangers, { integer: true }) : 15,
    ...(args.gallery ? { gallery: numberArg('gallery', args.gallery, { integer: true }) } : {}),
    onProgress: (m) => console.error(m),
  });
  if (args.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(
      textTable(
        ['track', 'enrolled', 'frames', 'appeared events'],
        report.tracks.map((t) => [t.identity, t.enrolled ? 'yes' : 'no', String(t.frames), t.named.join(', ') || '-']),
      ),
    );
    console.log(
      `\ngallery ${report.gallerySize} people, threshold ${report.threshold}: ` +
        `enrolled named ${report.enrolledNamed}/${report.enrolledShown} (named as someone else: ${report.enrolledMisnamed}), ` +
        `strangers named ${report.strangersNamed}/${report.strangersShown}` +
        (report.notSeen > 0 ? ` (${report.notSeen} tracks not seen: under 3 frames processed)` : ''),
    );
  }
  const pass = report.strangersNamed === 0 && report.enrolledNamed === report.enrolledShown;
  console.log(pass ? 'bar met' : 'bar NOT met: no stranger may be named, and every enrolled person must be');
} finally {
  await pool.close();
  await rm(workDir, { recursive: true, force: true });
}
