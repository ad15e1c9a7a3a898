// Which cameras the page follows on its one socket. The hub keeps a single set of cameras per connection, so
// components that follow cameras at the same time (a tile, a timeline, …) are counted here and the hub is told
// only what changes, and everything again after a reconnect (the server forgets a connection's subscriptions).
// Motion regions (the motion overlay) are a per-camera option of the subscription, counted the same way.
import { useEffect } from 'preact/hooks';
import { getSocket } from './socket.ts';
import type { SubscribeAck } from './wire.ts';

const ALL = '*';
const counts = new Map<string, number>();
/** Cameras whose previews are wanted with their motion regions. */
const motionCounts = new Map<string, number>();
/** What the hub has been told on the current connection. */
let told = new Set<string>();
let toldMotion = new Set<string>();
let listening = false;

function wanted(): Set<string> {
  return counts.has(ALL) ? new Set([ALL]) : new Set(counts.keys());
}

function report(ack: SubscribeAck): void {
  if ('error' in ack) console.warn(`subscribe refused: ${ack.message}`);
}

function sync(): void {
  const socket = getSocket();
  if (!listening) {
    listening = true;
    socket.on('connect', () => {
      told = new Set();
      toldMotion = new Set();
      sync();
    });
  }
  if (!socket.connected) return; // 'connect' syncs
  const want = wanted();
  // Leaving "*" leaves every camera: the ids still wanted are joined again.
  const leavingAll = told.has(ALL) && !want.has(ALL);
  // Joining "*" covers cameras already joined: no need to leave them first.
  const leave = want.has(ALL) ? [] : [...told].filter((id) => !want.has(id));
  const join = [...want].filter((id) => !told.has(id) || leavingAll);
  if (leave.length > 0) socket.emit('unsubscribe', { cameras: leave });
  if (join.length > 0) socket.emit('subscribe', { cameras: join }, report);
  told = want;

  // Leaving a camera (or "*") leaves its motion regions too; subscribing to a camera again without the option
  // stops them.
  const followed = (id: string) => want.has(id) || want.has(ALL);
  const stillTold = leavingAll ? [] : [...toldMotion].filter((id) => followed(id) && !join.includes(id));
  const motionWanted = new Set(motionCounts.keys());
  const motionOn = [...motionWanted].filter((id) => !stillTold.includes(id));
  const motionOff = stillTold.filter((id) => !motionWanted.has(id));
  if (motionOn.length > 0) socket.emit('subscribe', { cameras: motionOn, motion: true }, report);
  if (motionOff.length > 0) socket.emit('subscribe', { cameras: motionOff }, report);
  toldMotion = motionWanted;
}

function add(map: Map<string, number>, ids: readonly string[], step: 1 | -1): void {
  for (const id of ids) {
    const n = (map.get(id) ?? 0) + step;
    if (n > 0) map.set(id, n);
    else map.delete(id);
  }
}

/**
 * Follows the cameras (ids, or ['*'] for every camera, including later ones) until the returned function runs;
 * `motion`: with their motion regions (named cameras only).
 */
export function follow(cameras: readonly string[], options: { motion?: boolean } = {}): () => void {
  const motion = options.motion ? cameras.filter((id) => id !== ALL) : [];
  add(counts, cameras, 1);
  add(motionCounts, motion, 1);
  sync();
  return () => {
    add(counts, cameras, -1);
    add(motionCounts, motion, -1);
    sync();
  };
}

/** Follows the cameras while the component is mounted. */
export function useSubscription(cameras: readonly string[], options: { motion?: boolean } = {}): void {
  const key = cameras.join('\n');
  const motion = options.motion === true;
  useEffect(() => follow(key === '' ? [] : key.split('\n'), { motion }), [key, motion]);
}
