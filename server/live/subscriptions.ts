// Camera subscriptions: one Socket.IO room per camera. A client joins the cameras it watches, or "*" for every
// camera including those added later; the rooms follow the camera list as it changes. A client that asked for a
// camera's motion regions is also in that camera's motion room (previews.ts sends them there only).
import { type SubscribeAck, SubscribeRequest } from './protocol.ts';
import { type HubServer, type HubSocket, replier } from './socket.ts';

const ROOM_PREFIX = 'camera:';
const MOTION_PREFIX = 'motion:';

export const room = (cameraId: string): string => `${ROOM_PREFIX}${cameraId}`;
export const motionRoom = (cameraId: string): string => `${MOTION_PREFIX}${cameraId}`;

/** The camera a room is for, or undefined for other rooms (a socket's own room). */
export const cameraOfRoom = (name: string): string | undefined =>
  name.startsWith(ROOM_PREFIX) ? name.slice(ROOM_PREFIX.length) : undefined;

function subscribed(socket: HubSocket): string[] {
  return [...socket.rooms].flatMap((r) => cameraOfRoom(r) ?? []);
}

/** The `subscribe` (join) or `unsubscribe` handler of one socket, against the cameras known now. */
export function subscriptionHandler(
  socket: HubSocket,
  join: boolean,
  cameraIds: () => Set<string>,
): (request: unknown, ack?: unknown) => void {
  return (request, ack) => {
    const reply = replier<SubscribeAck>(ack);
    const parsed = SubscribeRequest.safeParse(request);
    if (!parsed.success) {
      reply({
        error: 'invalid_request',
        message: 'expected {"cameras": ["<camera id>", …]} or {"cameras": ["*"]} for every camera',
      });
      return;
    }
    const { cameras, motion } = parsed.data;
    if (cameras.includes('*') && motion) {
      reply({ error: 'invalid_request', message: 'motion regions are sent for named cameras only, not "*"' });
      return;
    }
    const known = cameraIds();
    const unknown: string[] = [];
    const leave = (id: string) => {
      void socket.leave(room(id));
      void socket.leave(motionRoom(id));
    };
    if (cameras.includes('*')) {
      socket.data.all = join;
      for (const id of join ? known : subscribed(socket)) {
        if (join) void socket.join(room(id));
        else leave(id);
      }
    } else {
      for (const id of cameras) {
        if (join && !known.has(id)) unknown.push(id);
        else if (join) {
          void socket.join(room(id));
          if (motion) void socket.join(motionRoom(id));
          else void socket.leave(motionRoom(id));
        } else {
          leave(id);
          // Leaving one camera ends "every camera": later cameras are no longer joined by themselves.
          socket.data.all = false;
        }
      }
    }
    reply({ cameras: subscribed(socket), all: socket.data.all, unknown });
  };
}

/**
 * After the camera list changed: "*" subscribers join new cameras; rooms of removed cameras are emptied, except
 * across nodes (`clustered`), where a camera that leaves the list may only be moving to another node, or its node
 * be out of reach for a while: its watchers stay, and get its frames again when it is back.
 */
export function followCameraList(io: HubServer, known: Set<string>, clustered = false): void {
  for (const name of io.sockets.adapter.rooms.keys()) {
    const id = cameraOfRoom(name) ?? (name.startsWith(MOTION_PREFIX) ? name.slice(MOTION_PREFIX.length) : undefined);
    if (id !== undefined && !known.has(id) && !clustered) io.socketsLeave(name);
  }
  for (const socket of io.sockets.sockets.values()) {
    if (socket.data.all) for (const id of known) void socket.join(room(id));
  }
}
