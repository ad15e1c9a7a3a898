// How a node brings its negative examples in step with the shared database's (cluster mode): what is removed, what
// is added under the shared id, and what stays the node's own. The SQL and the transactions run in cluster.test.ts.
import { describe, expect, it } from 'vitest';
import type { Negative } from '../../facebank/index.ts';
import { planNegatives, SHARED_NEGATIVE_IDS_FROM } from './sharedNegatives.ts';

const S = SHARED_NEGATIVE_IDS_FROM;
const ofEvent = (id: number, person: string, eventId: number): Negative => ({
  id,
  person,
  source: { kind: 'event', eventId },
  createdAt: 1,
});
const ofImage = (id: number, person: string, sha256: string): Negative => ({
  id,
  person,
  source: { kind: 'image', sha256 },
  createdAt: 1,
});
const ids = (ns: Negative[]) => ns.map((n) => n.id).sort((a, b) => a - b);

describe('planNegatives', () => {
  it('adds what the node lacks, removes what the database no longer has, and keeps the rest', () => {
    const kept = ofEvent(S + 1, 'amy', 10);
    const removedElsewhere = ofEvent(S + 2, 'amy', 11);
    const addedElsewhere = ofImage(S + 3, 'raj', 'a'.repeat(64));
    const plan = planNegatives([kept, removedElsewhere], [kept, addedElsewhere], () => true);
    expect(ids(plan.remove)).toEqual([S + 2]);
    expect(ids(plan.add)).toEqual([S + 3]);
    expect(plan.localOnly).toBe(0);
  });

  it('a negative whose person changed (a rename elsewhere) is removed and added again under the new name', () => {
    const before = ofEvent(S + 5, 'amy', 10);
    const after = { ...before, person: 'amy farrah' };
    const plan = planNegatives([before], [after], () => true);
    expect(plan.remove).toEqual([before]);
    expect(plan.add).toEqual([after]);
  });

  it("waits for a person the node does not have yet, and keeps the node's own from before it joined", () => {
    const own = ofEvent(3, 'amy', 10);
    const pending = ofEvent(S + 7, 'howard', 12);
    const plan = planNegatives([own], [pending], (person) => person === 'amy');
    expect(plan).toEqual({ remove: [], add: [], localOnly: 1 });
  });

  it('a shared id held here for another face (left by a write that was undone) is replaced', () => {
    const here = ofEvent(S + 9, 'amy', 10);
    const there = ofEvent(S + 9, 'amy', 20);
    const plan = planNegatives([here], [there], () => true);
    expect(plan.remove).toEqual([here]);
    expect(plan.add).toEqual([there]);
  });
});
