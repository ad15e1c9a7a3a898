// WebRTC signalling over the hub's Socket.IO connection, against a real server: offers made by a real peer
// connection (werift, as a Node publisher), the API key at the handshake, refusals in clear words, and the
// webcam camera's life: added on publish, replaced by a second publish, removed on stop and on disconnect, with
// no ffmpeg left behind. (Media itself is covered by the Chromium test, test/browser/webcam.test.ts.)
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { RTCPeerConnection } from 'werift';
import { liveFfmpegPids } from '../../streams/sources/ffmpegProcesses.ts';
import { useTestServer } from '../../test/support/server.ts';
import type { ClientToServerEvents, PublishAck, ServerToClientEvents } from './protocol.ts';

const API_KEY = 'webrtc-test-key-0123';
type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

describe('webcam signalling (webrtc:publish, webrtc:stop)', () => {
  const server = useTestServer({ config: { apiKey: API_KEY } });
  const open: Array<{ close(): unknown }> = [];

  afterEach(async () => {
    for (const thing of open.splice(0)) await thing.close();
  });

  const connect = (auth: Record<string, string> = { apiKey: API_KEY }): Promise<ClientSocket> => {
    const socket: ClientSocket = io(server.url, { transports: ['websocket'], reconnection: false, auth });
    open.push(socket);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  };

  /** A publisher's offer: one send-only video track (VP8 and H.264), candidates included. */
  const offer = async (kinds: Array<'video' | 'audio'> = ['video']): Promise<string> => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    open.push(pc);
    for (const kind of kinds) pc.addTransceiver(kind, { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    return pc.localDescription?.sdp ?? '';
  };

  const publish = (socket: ClientSocket, request: unknown): Promise<PublishAck> =>
    socket.timeout(10_000).emitWithAck('webrtc:publish', request);

  const webcams = () => server.runtime.cameras.list().filter((c) => c.kind === 'webrtc');

  it('needs the API key at the handshake, like every live message', async () => {
    await expect(connect({})).rejects.toThrow(/unauthorized/);
  });

  it('answers an offer with an SDP answer and a camera of its own; stop removes it and its decoder', async () => {
    const socket = await connect();
    const ack = await publish(socket, { sdp: await offer(), name: 'Front desk' });
    if ('error' in ack) throw new Error(ack.message);
    expect(ack.sdp).toMatch(/^v=0/);
    expect(ack.sdp).toMatch(/a=recvonly/);
    // Non-trickle: the answer carries the server's candidates, loopback included.
    expect(ack.sdp).toMatch(/a=candidate:.* 127\.0\.0\.1 /);
    expect(ack.sdp).toMatch(/a=rtpmap:\d+ VP8\/90000/);
    expect(webcams()).toEqual([expect.objectContaining({ id: ack.cameraId, name: 'Front desk', persistent: false })]);
    expect(liveFfmpegPids()).toHaveLength(1);

    // Another page cannot stop it.
    const other = await connect();
    await expect(other.timeout(5000).emitWithAck('webrtc:stop', { cameraId: ack.cameraId })).resolves.toMatchObject({
      error: 'not_found',
    });
    await expect(socket.timeout(5000).emitWithAck('webrtc:stop', { cameraId: ack.cameraId })).resolves.toEqual({
      ok: true,
    });
    expect(webcams()).toEqual([]);
    expect(liveFfmpegPids()).toEqual([]);
  });

  it('a second publish from the same page replaces the first; a disconnect removes the camera', async () => {
    const socket = await connect();
    const first = await publish(socket, { sdp: await offer() });
    const second = await publish(socket, { sdp: await offer() });
    if ('error' in first || 'error' in second) throw new Error('publish refused');
    expect(webcams().map((c) => c.id)).toEqual([second.cameraId]);
    socket.close();
    await expect.poll(() => webcams().length, { timeout: 5000, interval: 50 }).toBe(0);
    await expect.poll(() => liveFfmpegPids().length, { timeout: 5000, interval: 50 }).toBe(0);
  });

  it('refuses bad requests in clear words, without adding a camera', async () => {
    const socket = await connect();
    await expect(publish(socket, { name: 'no offer' })).resolves.toMatchObject({ error: 'invalid_request' });
    await expect(publish(socket, { sdp: 'v=0\r\nnot an offer' })).resolves.toMatchObject({ error: 'no_video' });
    const vp9Only = 'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 98\r\na=sendonly\r\na=rtpmap:98 VP9/90000\r\n';
    await expect(publish(socket, { sdp: vp9Only })).resolves.toMatchObject({
      error: 'unsupported_codec',
      message: expect.stringMatching(/vp8 or h264/),
    });
    await expect(publish(socket, { sdp: await offer(['audio']) })).resolves.toMatchObject({
      error: 'no_video',
      message: 'the offer has no video track',
    });
    expect(webcams()).toEqual([]);
    expect(liveFfmpegPids()).toEqual([]);
  });
});
