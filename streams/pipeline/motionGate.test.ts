// The motion gate's plan (pure): skip, a crop around motion and tracks, or the whole frame (or region).
import { describe, expect, it } from 'vitest';
import type { Box } from '../../models/box.ts';
import type { MotionResult } from '../motion/detector.ts';
import { type PlanInput, planDetection } from './motionGate.ts';

const still: MotionResult = { fraction: 0, regions: [], wholeFrame: false };
const base: PlanInput = { motion: still, tracks: [], width: 1280, height: 720, region: null, minFaceSize: 40 };
const box = (x1: number, y1: number, x2: number, y2: number): Box => ({ x1, y1, x2, y2 });
const moving = (...regions: Box[]): MotionResult => ({ fraction: 0.01, regions, wholeFrame: false });

describe('planDetection', () => {
  it('skips a still frame with no track, and analyses a new scene or an ungated camera whole', () => {
    expect(planDetection(base)).toEqual({ kind: 'skip' });
    expect(planDetection({ ...base, motion: { fraction: 1, regions: [], wholeFrame: true } })).toEqual({
      kind: 'whole',
    });
    expect(planDetection({ ...base, motion: undefined })).toEqual({ kind: 'whole' });
  });

  it('crops around a small moving region, with a margin, and around a still tracked face', () => {
    const plan = planDetection({ ...base, motion: moving(box(600, 300, 680, 400)) });
    expect(plan.kind).toBe('crop');
    if (plan.kind !== 'crop') return;
    const { x1, y1, x2, y2 } = plan.box;
    expect(x1).toBeLessThan(600 - 40);
    expect(y1).toBeLessThan(300 - 40);
    expect(x2).toBeGreaterThan(680 + 40);
    expect(y2).toBeGreaterThan(400 + 40);
    const tracked = planDetection({ ...base, tracks: [box(100, 100, 160, 170)] });
    expect(tracked.kind).toBe('crop');
  });

  it('looks at the whole frame when motion spans most of it, and stays inside the detection region', () => {
    expect(planDetection({ ...base, motion: moving(box(0, 0, 100, 100), box(1100, 600, 1280, 720)) })).toEqual({
      kind: 'whole',
    });
    const region = { rect: [0.5, 0, 1, 1] as [number, number, number, number] };
    expect(planDetection({ ...base, region, motion: undefined })).toEqual({
      kind: 'crop',
      box: box(640, 0, 1280, 720),
    });
    const plan = planDetection({ ...base, region, motion: moving(box(600, 300, 700, 400)) });
    expect(plan.kind === 'crop' && plan.box.x1 >= 640).toBe(true);
    expect(planDetection({ ...base, region, motion: moving(box(100, 100, 200, 200)) })).toEqual({ kind: 'skip' });
  });
});
