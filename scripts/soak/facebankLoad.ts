// The soak's facebank traffic: POST /rec at a steady rate with real photos, each answer checked against who is
// enrolled, and people enrolled and removed over the API on a period. Who is enrolled is known here; an answer
// about a person whose enrolment or removal was under way while the request ran is not judged (either answer is
// right), every other one must name the person when enrolled and must not when not.
import { readFile } from 'node:fs/promises';
import { FacebankImage, RecResponse } from '../../server/schemas.ts';
import { type Person, personImage } from '../../test/support/testdata.ts';
import { quantile } from '../stats.ts';
import { call, type Tally } from './tally.ts';

/** Photos of each person the facebank is given (the same numbers whether seeded or enrolled over the API). */
export const ENROL_PHOTOS = [1, 2];
/** Photos of each person sent to /rec: never enrolled. */
const QUERY_PHOTOS = [3, 4, 5];
/** /rec requests in flight at most: beyond it the server is not keeping up, and the tick is skipped (counted). */
export const MAX_IN_FLIGHT = 8;

interface PersonState {
  enrolled: boolean;
  /** Bumped when a change starts and when it ends: an answer is judged only if it did not move meanwhile. */
  epoch: number;
}

export interface RecStats {
  sent: number;
  ok: number;
  /** Judged and right / judged and wrong / not judged (the person was being enrolled or removed). */
  right: number;
  wrong: number;
  unjudged: number;
  /** Ticks skipped because MAX_IN_FLIGHT requests were still waiting. */
  skipped: number;
  latenciesMs: number[];
}

export interface ChurnStats {
  enrolments: number;
  removals: number;
}

export class FacebankLoad {
  readonly rec: RecStats = { sent: 0, ok: 0, right: 0, wrong: 0, unjudged: 0, skipped: 0, latenciesMs: [] };
  readonly churn: ChurnStats = { enrolments: 0, removals: 0 };
  private readonly people = new Map<Person, PersonState>();
  /** Churn people enrolled, oldest first: the next removal takes the first. */
  private readonly enrolledChurn: Person[] = [];
  private readonly photos = new Map<string, string>();
  private inFlight = 0;
  private nextQuery = 0;
  private nextEnrol = 0;

  /**
   * `seeded`: in the facebank folder before the start, never removed. `churn`: enrolled and removed in turn;
   * the first `initiallyEnrolled` of them are in the folder at the start too.
   */
  constructor(
    private readonly base: string,
    private readonly tally: Tally,
    readonly seeded: readonly Person[],
    readonly churnPeople: readonly Person[],
    initiallyEnrolled: number,
  ) {
    for (const p of seeded) this.people.set(p, { enrolled: true, epoch: 0 });
    churnPeople.forEach((p, i) => {
      this.people.set(p, { enrolled: i < initiallyEnrolled, epoch: 0 });
      if (i < initiallyEnrolled) this.enrolledChurn.push(p);
    });
    this.nextEnrol = initiallyEnrolled % churnPeople.length;
  }

  /** Reads the photos (as base64) once. */
  async load(): Promise<void> {
    for (const person of this.people.keys()) {
      for (const n of [...ENROL_PHOTOS, ...QUERY_PHOTOS]) {
        this.photos.set(`${person}${n}`, (await readFile(personImage(person, n))).toString('base64'));
      }
    }
  }

  /** One /rec tick: sends the next photo unless too many are waiting (then counts a skip). */
  recTick(): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.rec.skipped++;
      return;
    }
    const all = [...this.people.keys()];
    const i = this.nextQuery++;
    const person = all[i % all.length]!;
    const n = QUERY_PHOTOS[Math.floor(i / all.length) % QUERY_PHOTOS.length]!;
    this.inFlight++;
    void this.recognise(person, n).finally(() => this.inFlight--);
  }

  /** Waits for the /rec requests still in flight. */
  async drain(): Promise<void> {
    while (this.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  private async recognise(person: Person, n: number): Promise<void> {
    const before = new Map([...this.people].map(([p, s]) => [p, s.epoch]));
    this.rec.sent++;
    const answer = await call(this.tally, this.base, `/rec ${person}${n}`, {
      method: 'POST',
      path: '/rec',
      json: { file: this.photos.get(`${person}${n}`) },
      expect: 200,
    });
    if (!answer) return;
    this.rec.ok++;
    this.rec.latenciesMs.push(answer.ms);
    const parsed = RecResponse.safeParse(answer.json);
    if (!parsed.success) {
      this.rec.wrong++;
      this.tally.error('answer', `/rec ${person}${n}: not a /rec answer: ${JSON.stringify(answer.json)}`);
      return;
    }
    const name = parsed.data.names?.[0] ?? '(no face)';
    // Judged only if nobody's enrolment moved meanwhile: the answer may name anyone who was enrolled at any time.
    const moved = [...this.people].some(([p, s]) => s.epoch !== before.get(p) || s.epoch % 2 === 1);
    if (moved) {
      this.rec.unjudged++;
      return;
    }
    const expected = this.people.get(person)?.enrolled ? person : 'Unknown';
    if (name === expected) this.rec.right++;
    else {
      this.rec.wrong++;
      this.tally.error(
        'answer',
        `/rec ${person}${n}: named ${name}, expected ${expected} (${JSON.stringify(parsed.data)})`,
      );
    }
  }

  /** Enrols the next churn person who is not enrolled (their photos over the API, one request each). */
  async enrolNext(): Promise<void> {
    const count = this.churnPeople.length;
    let who: Person | undefined;
    for (let k = 0; k < count && who === undefined; k++) {
      const candidate = this.churnPeople[(this.nextEnrol + k) % count]!;
      if (!this.people.get(candidate)!.enrolled) {
        who = candidate;
        this.nextEnrol = (this.nextEnrol + k + 1) % count;
      }
    }
    if (who === undefined) return;
    const state = this.people.get(who)!;
    state.epoch++;
    try {
      let ok = true;
      for (const n of ENROL_PHOTOS) {
        const answer = await call(this.tally, this.base, `enrol ${who}`, {
          method: 'POST',
          path: `/api/people/${who}/images`,
          json: { file: this.photos.get(`${who}${n}`), filename: `${who}${n}.png` },
          expect: 201,
        });
        const images = FacebankImage.array().safeParse(answer?.json);
        if (!answer) ok = false;
        else if (!images.success || images.data[0]?.status !== 'embedded') {
          ok = false;
          this.tally.error('answer', `enrol ${who}${n}: ${JSON.stringify(answer.json)}`);
        }
      }
      const listed = await call(this.tally, this.base, `after enrolling ${who}`, {
        path: `/api/people/${who}`,
        expect: 200,
      });
      // The server's word decides what is true from now on, whatever we asked for.
      state.enrolled = listed !== undefined;
      if (ok && listed) this.churn.enrolments++;
      if (state.enrolled && !this.enrolledChurn.includes(who)) this.enrolledChurn.push(who);
    } finally {
      state.epoch++;
    }
  }

  /** Removes the churn person enrolled longest ago. */
  async removeOldest(): Promise<void> {
    const who = this.enrolledChurn.shift();
    if (who === undefined) return;
    const state = this.people.get(who)!;
    state.epoch++;
    try {
      const removed = await call(this.tally, this.base, `remove ${who}`, {
        method: 'DELETE',
        path: `/api/people/${who}`,
        expect: 204,
      });
      const gone = await call(this.tally, this.base, `after removing ${who}`, {
        path: `/api/people/${who}`,
        expect: 404,
      });
      state.enrolled = gone === undefined;
      if (state.enrolled) this.enrolledChurn.unshift(who);
      else if (removed) this.churn.removals++;
    } finally {
      state.epoch++;
    }
  }

  /** /rec latency p50 / p95 over the calls since the last call of this, and resets them. */
  takeLatencies(): { p50: number; p95: number } {
    const l = this.rec.latenciesMs.splice(0);
    return { p50: quantile(l, 0.5), p95: quantile(l, 0.95) };
  }
}
