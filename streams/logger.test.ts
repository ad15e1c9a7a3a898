import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { StreamLogger } from './logger.ts';

describe('StreamLogger', () => {
  it('takes a pino logger', () => {
    const logger: StreamLogger = pino({ level: 'silent' });
    expect(typeof logger.warn).toBe('function');
  });
});
