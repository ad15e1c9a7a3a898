// A seeded generator (mulberry32) so test inputs are identical from run to run: the evaluations' own.
export { seededRandom } from '../../facebank/eval/opensetSplit.ts';
