// A logger that keeps what it is told, for tests that assert what was logged (models/logger.ts's shape).
import type { Logger } from '../../models/logger.ts';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  details: Record<string, unknown>;
  message: string;
}

export interface RecordingLogger {
  logger: Logger;
  /** Every line so far, children's included (with their bindings in `details`). */
  lines: LogLine[];
  /** The lines as text, one per line: `level message {details}`. */
  text(): string;
}

export function recordingLogger(): RecordingLogger {
  const lines: LogLine[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: LogLine['level']) =>
      (details: object, message: string): void => {
        lines.push({ level, details: { ...bindings, ...(details as Record<string, unknown>) }, message });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return {
    logger: make({}),
    lines,
    text: () => lines.map((l) => `${l.level} ${l.message} ${JSON.stringify(l.details)}`).join('\n'),
  };
}
