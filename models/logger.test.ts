import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Logger } from './logger.ts';

describe('Logger', () => {
  it('takes a pino logger', () => {
    const logger: Logger = pino({ level: 'silent' });
    expect(typeof logger.warn).toBe('function');
  });
});
