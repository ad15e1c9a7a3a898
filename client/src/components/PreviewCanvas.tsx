// A camera's live preview: the hub's JPEGs drawn on a canvas with the boxes, names and scores of that very
// frame. Frames are decoded off the main thread (createImageBitmap); when decoding falls behind, only the newest
// waiting frame is drawn. The names on the drawn frame are reported to the parent (and kept in data-names, so the
// browser tests read them from the page rather than from pixels). With `motion`, the frame's moving regions are
// drawn too (the page subscribes with the motion option; their count is kept in data-motion).
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { drawDetections, drawMotion } from '../overlay.ts';
import { getSocket } from '../socket.ts';
import type { PreviewMeta, TrackedFace } from '../wire.ts';

interface Props {
  cameraId: string;
  /** Shown until the first frame arrives. */
  placeholder: string;
  /** Called when the faces on the drawn frame change (by track and name). */
  onFaces?: (faces: TrackedFace[]) => void;
  /** Draw the motion regions the previews carry. */
  motion?: boolean;
  /** Called when the picture's size (the preview's, in pixels) changes. */
  onPictureSize?: (size: { width: number; height: number }) => void;
  class?: string;
  /** Laid over the picture (e.g. a shape editor). */
  children?: ComponentChildren;
}

const facesKey = (faces: readonly TrackedFace[]) => faces.map((f) => `${f.trackId}:${f.name}`).join(',');

export function PreviewCanvas({
  cameraId,
  placeholder,
  onFaces,
  motion = false,
  onPictureSize,
  class: className,
  children,
}: Props) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [drawn, setDrawn] = useState(false);
  const onFacesRef = useRef(onFaces);
  onFacesRef.current = onFaces;
  const onSizeRef = useRef(onPictureSize);
  onSizeRef.current = onPictureSize;
  const motionRef = useRef(motion);
  motionRef.current = motion;

  useEffect(() => {
    const socket = getSocket();
    let waiting: { meta: PreviewMeta; jpeg: ArrayBuffer } | undefined;
    let decoding = false;
    let closed = false;
    let lastKey: string | undefined;
    let lastSize = '';

    const paint = (meta: PreviewMeta, bitmap: ImageBitmap) => {
      const canvas = canvasRef.current;
      const ctx = canvas?.getContext('2d');
      if (!canvas || !ctx) return;
      // The drawing buffer is the picture's size as shown (fitted into the element, aspect kept), so that
      // labels keep their size on a small tile instead of shrinking with the picture.
      const fit = Math.min(canvas.clientWidth / bitmap.width, canvas.clientHeight / bitmap.height) || 1;
      const width = Math.max(1, Math.round(bitmap.width * fit));
      const height = Math.max(1, Math.round(bitmap.height * fit));
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
      ctx.drawImage(bitmap, 0, 0, width, height);
      drawDetections(ctx, meta.detections);
      if (motionRef.current) {
        const regions = meta.motion ?? [];
        drawMotion(ctx, regions, meta.detections.width, meta.detections.height);
        canvas.dataset.motion = String(regions.length);
      } else delete canvas.dataset.motion;
      const size = `${bitmap.width}x${bitmap.height}`;
      if (size !== lastSize) {
        lastSize = size;
        onSizeRef.current?.({ width: bitmap.width, height: bitmap.height });
      }
      const faces = meta.detections.faces;
      const key = facesKey(faces);
      if (key !== lastKey) {
        lastKey = key;
        canvas.dataset.names = [...new Set(faces.map((f) => f.name))].sort().join(',');
        onFacesRef.current?.(faces);
      }
      canvas.dataset.seq = String(meta.seq);
      setDrawn(true);
    };

    const drain = async () => {
      decoding = true;
      while (waiting && !closed) {
        const { meta, jpeg } = waiting;
        waiting = undefined;
        try {
          const bitmap = await createImageBitmap(new Blob([jpeg], { type: 'image/jpeg' }));
          if (!closed) paint(meta, bitmap);
          bitmap.close();
        } catch (err) {
          console.warn(`preview frame ${meta.seq} of ${meta.cameraId} could not be decoded`, err);
        }
      }
      decoding = false;
    };

    const onPreview = (meta: PreviewMeta, jpeg: ArrayBuffer) => {
      if (meta.cameraId !== cameraId) return;
      waiting = { meta, jpeg };
      if (!decoding) void drain();
    };
    socket.on('preview', onPreview);
    return () => {
      closed = true;
      socket.off('preview', onPreview);
    };
  }, [cameraId]);

  return (
    <div class={`view ${className ?? ''}`}>
      <canvas ref={canvasRef} data-camera-id={cameraId} />
      {!drawn && <div class="view-placeholder">{placeholder}</div>}
      {children}
    </div>
  );
}
