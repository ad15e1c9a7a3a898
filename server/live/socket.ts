// The typed Socket.IO server and socket of the live layer, and the few engine.io internals it reads.
import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from './protocol.ts';

/** Between nodes (REDIS_URL): each node's cameras and watchers (peers.ts validates what arrives). */
export interface InterServerEvents {
  peer: (state: unknown) => void;
}

export interface SocketData {
  /** Subscribed with "*": new cameras are joined as they appear. */
  all: boolean;
}

export type HubServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type HubSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Packets waiting in engine.io for the transport (its writeBuffer: public in practice, private in the types). */
export function backlog(socket: HubSocket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}

/** engine.io's WebSocket transport keeps the `ws` socket here (absent while long-polling). */
export function webSocketOf(socket: HubSocket): { bufferedAmount?: unknown; terminate?: () => void } | undefined {
  return (socket.conn.transport as unknown as { socket?: { bufferedAmount?: unknown; terminate?: () => void } }).socket;
}

/** Calls a client's acknowledgement callback, if it sent one. */
export function replier<T>(ack: unknown): (reply: T) => void {
  return (reply) => {
    if (typeof ack === 'function') ack(reply);
  };
}
