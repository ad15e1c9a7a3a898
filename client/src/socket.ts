// The one Socket.IO connection of the page, authenticated with the API key and re-made when the key changes.
import { io, type Socket } from 'socket.io-client';
import { apiKey, markKeyNeeded, onKeyChange } from './key.ts';

let socket: Socket | undefined;

export function getSocket(): Socket {
  if (!socket) {
    const key = apiKey();
    socket = io({ auth: key ? { apiKey: key } : {}, transports: ['websocket'] });
    socket.on('connect_error', (err: Error & { data?: { error?: string } }) => {
      if (err.data?.error === 'unauthorized') markKeyNeeded(true);
    });
  }
  return socket;
}

onKeyChange(() => {
  if (!socket) return;
  const key = apiKey();
  socket.auth = key ? { apiKey: key } : {};
  socket.disconnect().connect();
});
