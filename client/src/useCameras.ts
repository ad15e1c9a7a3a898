// The camera list with live health, for every page that shows cameras: fetched from /api/cameras, fetched again
// when the server says the list changed or the socket (re)connects (a restart, a new API key), and its health
// replaced by the hub's once-a-second `health` and immediate `state` messages in between.
import { useEffect } from 'preact/hooks';
import { getSocket } from './socket.ts';
import { useLatest } from './useLatest.ts';
import type { Camera, CameraHealth } from './wire.ts';

export interface CamerasState {
  /** Undefined until the first answer. */
  cameras: Camera[] | undefined;
  /** Why the last fetch failed, if it did. */
  error: string | undefined;
  reload: () => Promise<void>;
}

function withHealth(cameras: Camera[], health: readonly CameraHealth[]): Camera[] {
  const byId = new Map(health.map((h) => [h.id, h]));
  return cameras.map((c) => {
    const h = byId.get(c.id);
    return h ? { ...c, health: h } : c;
  });
}

export function useCameras(): CamerasState {
  const { data: cameras, setData: setCameras, error, reload } = useLatest<Camera[]>('/api/cameras');

  useEffect(() => {
    const socket = getSocket();
    const onHealth = (health: CameraHealth[]) => setCameras((list) => list && withHealth(list, health));
    const onState = (health: CameraHealth) => setCameras((list) => list && withHealth(list, [health]));
    const onChange = () => void reload();
    socket.on('cameras', onChange);
    socket.on('connect', onChange);
    socket.on('health', onHealth);
    socket.on('state', onState);
    void reload();
    return () => {
      socket.off('cameras', onChange);
      socket.off('connect', onChange);
      socket.off('health', onHealth);
      socket.off('state', onState);
    };
  }, [reload, setCameras]);

  return { cameras, error, reload };
}
