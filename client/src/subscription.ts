// Which cameras the page follows on its one socket. The hub keeps a single set of cameras per connection, so
// components that follow cameras at the same time (a tile, a timeline, …) are counted here and the hub is told
// only what changes, and everything again after a reconnect (the server forgets a connection's subscriptions).
import { useEffect } from 'preact/hooks';
import { getSocket } from './socket.ts';
import type { SubscribeAck } from './wire.ts';

const ALL = '*';
const counts = new Map<string, number>();
/** What the hub has been told on the current connection. */
let told = new Set<string>();
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
}

/** Follows the cameras (ids, or ['*'] for every camera, including later ones) until the returned function runs. */
export function follow(cameras: readonly string[]): () => void {
  for (const id of cameras) counts.set(id, (counts.get(id) ?? 0) + 1);
  sync();
  return () => {
    for (const id of cameras) {
      const n = (counts.get(id) ?? 1) - 1;
      if (n > 0) counts.set(id, n);
      else counts.delete(id);
    }
    sync();
  };
}

/** Follows the cameras while the component is mounted. */
export function useSubscription(cameras: readonly string[]): void {
  const key = cameras.join('\n');
  useEffect(() => follow(key === '' ? [] : key.split('\n')), [key]);
}
