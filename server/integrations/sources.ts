// What the integrations read from the rest of the server: the camera registry's events and states (as the Socket.IO
// hub does) and the facebank's list of people. Listeners only; nothing here calls into a pipeline.
import type { Facebank } from '../../facebank/index.ts';
import type { CameraRegistry } from '../../streams/cameras/registry.ts';

export interface IntegrationSources {
  cameras: Pick<CameraRegistry, 'on' | 'off' | 'list' | 'health'> & { events: Pick<CameraRegistry['events'], 'list'> };
  facebank: Pick<Facebank, 'people' | 'on' | 'off'>;
}
