// "Use my camera": the browser's webcam goes to the server over WebRTC and becomes a camera of its own; the page
// shows its own video with the server's boxes and names drawn over it. Leaving the page stops the camera; a lost
// connection is retried for as long as the page is open.
import { useEffect, useRef, useState } from 'preact/hooks';
import { HealthStats, StateBadge } from '../components/CameraHealth.tsx';
import { FaceNames } from '../components/FaceNames.tsx';
import { drawDetections } from '../overlay.ts';
import { getSocket } from '../socket.ts';
import { follow } from '../subscription.ts';
import { useCameras } from '../useCameras.ts';
import { type Publication, publishWebcam, type SendStats, WebcamError } from '../webrtc.ts';
import type { Detections, TrackedFace } from '../wire.ts';

type Phase =
  | { kind: 'idle' }
  | { kind: 'starting' }
  | { kind: 'connecting' }
  | { kind: 'published'; cameraId: string }
  | { kind: 'retrying'; reason: string }
  | { kind: 'failed'; message: string };

/** Boxes older than this are cleared: the server has stopped sending (or the face is long gone). */
const STALE_MS = 1000;
const RETRY_MS = 2000;

/** getUserMedia's refusals in plain words. */
function cameraProblem(err: unknown): string {
  const name = err instanceof DOMException ? err.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera access was refused. Allow the camera for this site in the browser (the icon in the address bar), then try again.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found. Connect one, then try again.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The camera could not be started: another application may be using it.';
    default:
      return `The camera could not be started: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Browsers offer cameras only to secure pages: https://, or http://localhost on the same computer. */
function insecureMessage(): string | undefined {
  // mediaDevices is missing altogether on insecure pages, whatever the DOM types say.
  const media = navigator.mediaDevices as MediaDevices | undefined;
  if (window.isSecureContext && media !== undefined) return undefined;
  const local = `http://localhost:${location.port || '80'}`;
  return `The browser offers the camera only to secure pages: open ${local} on the computer running facerec, or serve the dashboard over HTTPS.`;
}

/** One "use my camera" run: the camera, its publication, and retries after a lost connection. */
class WebcamRun {
  private stream: MediaStream | undefined;
  private publication: Publication | undefined;
  private unfollow: (() => void) | undefined;
  private retryTimer: number | undefined;
  private stopped = false;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly setPhase: (phase: Phase) => void,
  ) {}

  get current(): Publication | undefined {
    return this.publication;
  }

  async start(): Promise<void> {
    const insecure = insecureMessage();
    if (insecure) {
      this.setPhase({ kind: 'failed', message: insecure });
      return;
    }
    this.setPhase({ kind: 'starting' });
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
        audio: false,
      });
    } catch (err) {
      if (!this.stopped) this.setPhase({ kind: 'failed', message: cameraProblem(err) });
      return;
    }
    if (this.stopped) {
      this.release();
      return;
    }
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => {}); // muted and inline: allowed without a gesture
    this.stream.getVideoTracks()[0]?.addEventListener('ended', () => {
      this.stop();
      this.setPhase({
        kind: 'failed',
        message: 'The camera stopped: it was unplugged or taken by another application.',
      });
    });
    await this.publish();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    getSocket().off('connect', this.reconnected);
    this.unpublish();
    this.release();
  }

  /** Publishes again once the socket is back, or after a pause if it never went. */
  private readonly reconnected = () => {
    getSocket().off('connect', this.reconnected);
    void this.publish();
  };

  private async publish(): Promise<void> {
    if (this.stopped || !this.stream) return;
    this.setPhase({ kind: 'connecting' });
    let publication: Publication;
    try {
      publication = await publishWebcam(this.stream, 'Webcam');
    } catch (err) {
      if (this.stopped) return;
      // Refusals (too many webcams, no usable codec) need the user; a server out of reach is retried.
      if (err instanceof WebcamError && err.code !== 'timeout' && err.code !== 'connection_failed') {
        this.setPhase({ kind: 'failed', message: err.message });
        return;
      }
      this.lost(err instanceof Error ? err.message : String(err));
      return;
    }
    if (this.stopped) {
      void publication.stop();
      return;
    }
    this.publication = publication;
    this.unfollow = follow([publication.cameraId]);
    publication.onEnded((reason) => this.lost(reason));
    this.setPhase({ kind: 'published', cameraId: publication.cameraId });
  }

  private lost(reason: string): void {
    this.unpublish();
    if (this.stopped) return;
    this.setPhase({ kind: 'retrying', reason });
    if (getSocket().connected) this.retryTimer = window.setTimeout(() => void this.publish(), RETRY_MS);
    else getSocket().on('connect', this.reconnected);
  }

  private unpublish(): void {
    void this.publication?.stop();
    this.publication = undefined;
    this.unfollow?.();
    this.unfollow = undefined;
  }

  private release(): void {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = undefined;
    this.video.srcObject = null;
  }
}

/** Draws the webcam's detections over the video; returns the faces now drawn. */
function useOverlay(cameraId: string | undefined, canvasRef: { current: HTMLCanvasElement | null }): TrackedFace[] {
  const [faces, setFaces] = useState<TrackedFace[]>([]);
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!cameraId || !canvas) return;
    const socket = getSocket();
    let staleTimer: number | undefined;
    let key = '';
    const show = (next: TrackedFace[]) => {
      const nextKey = next.map((f) => `${f.trackId}:${f.name}`).join(',');
      if (nextKey !== key) {
        key = nextKey;
        setFaces(next);
      }
    };
    const clear = () => {
      canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
      show([]);
    };
    const onDetections = (d: Detections) => {
      if (d.cameraId !== cameraId) return;
      const ctx = canvas.getContext('2d');
      if (!ctx) return;
      // The drawing buffer is the video's size as shown, so labels keep a readable size on any screen.
      const width = Math.max(1, canvas.clientWidth);
      const height = Math.max(1, canvas.clientHeight);
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
      ctx.clearRect(0, 0, width, height);
      drawDetections(ctx, d);
      show(d.faces);
      clearTimeout(staleTimer);
      staleTimer = window.setTimeout(clear, STALE_MS);
    };
    socket.on('detections', onDetections);
    return () => {
      socket.off('detections', onDetections);
      clearTimeout(staleTimer);
      clear();
    };
  }, [cameraId, canvasRef]);
  return faces;
}

function useSendStats(run: WebcamRun | undefined, active: boolean): SendStats | undefined {
  const [stats, setStats] = useState<SendStats>();
  useEffect(() => {
    if (!run || !active) {
      setStats(undefined);
      return;
    }
    const timer = window.setInterval(() => {
      void run.current
        ?.stats()
        .then(setStats)
        .catch(() => {});
    }, 1000);
    return () => clearInterval(timer);
  }, [run, active]);
  return stats;
}

function phaseText(phase: Phase): string {
  switch (phase.kind) {
    case 'idle':
      return 'Camera off.';
    case 'starting':
      return 'Starting the camera…';
    case 'connecting':
      return 'Connecting to the server…';
    case 'published':
      return '';
    case 'retrying':
      return `Connection lost (${phase.reason}); reconnecting…`;
    case 'failed':
      return phase.message;
  }
}

export function WebcamPage() {
  const videoRef = useRef<HTMLVideoElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [run, setRun] = useState<WebcamRun>();
  const [aspect, setAspect] = useState('4 / 3');
  const { cameras } = useCameras();

  const cameraId = phase.kind === 'published' ? phase.cameraId : undefined;
  const camera = cameras?.find((c) => c.id === cameraId);
  const faces = useOverlay(cameraId, canvasRef);
  const sent = useSendStats(run, cameraId !== undefined);
  const running = run !== undefined && phase.kind !== 'failed';

  // Leaving the page ends the webcam.
  useEffect(() => () => run?.stop(), [run]);

  const start = () => {
    const video = videoRef.current;
    if (!video) return;
    const next = new WebcamRun(video, setPhase);
    setRun(next);
    void next.start();
  };
  const stop = () => {
    run?.stop();
    setRun(undefined);
    setPhase({ kind: 'idle' });
  };

  const text = phaseText(phase);
  return (
    <section class="page webcam">
      <div class="page-head">
        <h1>Webcam</h1>
        {running ? (
          <button type="button" class="danger" onClick={stop}>
            Stop
          </button>
        ) : (
          <button type="button" class="primary" onClick={start}>
            Use my camera
          </button>
        )}
      </div>
      <div class="large">
        <div class={`view webcam-view${running ? '' : ' off'}`} style={{ aspectRatio: aspect }}>
          <video
            ref={videoRef}
            muted
            playsInline
            onLoadedMetadata={(e) => {
              const v = e.currentTarget;
              if (v.videoWidth > 0 && v.videoHeight > 0) setAspect(`${v.videoWidth} / ${v.videoHeight}`);
            }}
          />
          <canvas ref={canvasRef} class="webcam-overlay" />
          {!running && <div class="view-placeholder">Your camera's picture shows here.</div>}
        </div>
        <aside class="panel large-info webcam-info">
          <div class="tile-head">
            <h2>Your camera</h2>
            {camera && <StateBadge health={camera.health} />}
          </div>
          <p
            class={phase.kind === 'failed' ? 'error' : phase.kind === 'retrying' ? 'warn' : 'muted'}
            role={phase.kind === 'failed' ? 'alert' : 'status'}
            data-phase={phase.kind}
          >
            {text ||
              (camera?.health.state === 'live'
                ? 'Live: faces are named as the server sees them.'
                : 'Waiting for the first picture…')}
          </p>
          <FaceNames faces={faces} />
          {camera && <HealthStats health={camera.health} />}
          {sent?.width !== undefined && (
            <p class="muted small">
              sending {sent.width}×{sent.height}
              {sent.fps !== undefined && ` at ${Math.round(sent.fps)} fps`}
              {sent.codec && `, ${sent.codec}`}
              {sent.kbps !== undefined && `, ${Math.round(sent.kbps)} kbit/s`}
            </p>
          )}
          <p class="muted small">
            The video goes only to this facerec server. Like any camera's, the faces it recognises are logged as events
            with a face crop.
          </p>
        </aside>
      </div>
    </section>
  );
}
