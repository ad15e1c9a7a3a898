// A source that could not be created: reports why as its state, so the camera shows it instead of crashing.
import { EventEmitter } from 'node:events';
import type { CameraKind, CameraState, Frame } from '../types.ts';

export class FailedSource extends EventEmitter<{ frame: [Frame]; state: [CameraState, (string | undefined)?] }> {
  constructor(
    readonly kind: CameraKind,
    private readonly reason: string,
  ) {
    super();
  }

  start(): void {
    this.emit('state', 'reconnecting', this.reason);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}
