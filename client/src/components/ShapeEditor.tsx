// The camera's masks and detection region over its live picture: drawn by dragging a rectangle, listed with a
// delete button each, saved with one PATCH /api/cameras/{id} ({masks, detectRegion}, the server's own shapes).
// Polygons set over the API are shown and can be deleted; new shapes are rectangles.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorMessage } from '../api.ts';
import { describeShape, rectBetween } from '../shapes.ts';
import type { Camera, CameraPatch, Shape } from '../wire.ts';

type Mode = 'none' | 'mask' | 'region';
type Point = [number, number];

interface Draft {
  masks: Shape[];
  region: Shape | null;
}

const draftOf = (camera: Camera): Draft => ({ masks: camera.masks, region: camera.detectRegion });
const keyOf = (d: Draft) => JSON.stringify(d);

/** One shape in the picture's pixels (the SVG's user space is the picture, `width`×`height`). */
function ShapeView({
  shape,
  width,
  height,
  class: className,
}: {
  shape: Shape;
  width: number;
  height: number;
  class: string;
}) {
  if ('rect' in shape) {
    const [x1, y1, x2, y2] = shape.rect;
    return (
      <rect class={className} x={x1 * width} y={y1 * height} width={(x2 - x1) * width} height={(y2 - y1) * height} />
    );
  }
  const points = shape.polygon.map(([x, y]) => `${x * width},${y * height}`).join(' ');
  return <polygon class={className} points={points} />;
}

interface OverlayProps {
  draft: Draft;
  size: { width: number; height: number };
  mode: Mode;
  onDrawn: (shape: Shape) => void;
}

/**
 * The shapes laid over the picture: an SVG whose viewBox is the picture, fitted like the canvas (object-fit:
 * contain), so its user space maps to frame coordinates whatever the element's size.
 */
export function ShapeOverlay({ draft, size, mode, onDrawn }: OverlayProps) {
  const svgRef = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<{ from: Point; to: Point }>();
  const { width, height } = size;

  const toFrame = (e: PointerEvent): Point | undefined => {
    const svg = svgRef.current;
    const m = svg?.getScreenCTM();
    if (!svg || !m) return undefined;
    const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
    return [p.x / width, p.y / height];
  };
  const down = (e: PointerEvent) => {
    if (mode === 'none') return;
    const p = toFrame(e);
    if (!p) return;
    (e.currentTarget as Element).setPointerCapture(e.pointerId);
    setDrag({ from: p, to: p });
  };
  const move = (e: PointerEvent) => {
    const p = drag && toFrame(e);
    if (drag && p) setDrag({ from: drag.from, to: p });
  };
  const up = (e: PointerEvent) => {
    const p = drag && toFrame(e);
    setDrag(undefined);
    const shape = drag && p && rectBetween(drag.from, p);
    if (shape) onDrawn(shape);
  };
  const drawing = drag && rectBetween(drag.from, drag.to);

  return (
    <svg
      ref={svgRef}
      class={`shape-overlay ${mode === 'none' ? '' : 'drawing'}`}
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="xMidYMid meet"
      onPointerDown={down}
      onPointerMove={move}
      onPointerUp={up}
      onPointerCancel={() => setDrag(undefined)}
    >
      <title>Masks and detection region</title>
      {draft.region && <ShapeView shape={draft.region} width={width} height={height} class="region" />}
      {draft.masks.map((m, i) => (
        <ShapeView key={i} shape={m} width={width} height={height} class="mask" />
      ))}
      {drawing && <ShapeView shape={drawing} width={width} height={height} class={`new ${mode}`} />}
    </svg>
  );
}

interface EditorState {
  draft: Draft;
  mode: Mode;
  setMode: (mode: Mode) => void;
  /** A shape drawn on the picture, in the current mode. */
  add: (shape: Shape) => void;
}

/** The panel: the list of masks, the region, the drawing modes and Save. Returns the state the overlay needs. */
export function useShapeEditor(camera: Camera, onSaved: () => void) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(camera));
  const [mode, setMode] = useState<Mode>('none');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const saved = keyOf(draftOf(camera));
  const dirty = keyOf(draft) !== saved;
  // What the server holds changed (saved here, or elsewhere): shown unless the shapes were being edited.
  const base = useRef(saved);
  useEffect(() => {
    if (saved === base.current) return;
    const unedited = keyOf(draft) === base.current;
    base.current = saved;
    if (unedited) setDraft(draftOf(camera));
  }, [saved, draft, camera]);

  const add = (shape: Shape) => {
    if (mode === 'mask') setDraft((d) => ({ ...d, masks: [...d.masks, shape] }));
    else if (mode === 'region') setDraft((d) => ({ ...d, region: shape }));
    setMode('none');
  };

  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const body: CameraPatch = { masks: draft.masks, detectRegion: draft.region };
      await api(`/api/cameras/${encodeURIComponent(camera.id)}`, { method: 'PATCH', body });
      onSaved();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const state: EditorState = { draft, mode, setMode, add };
  const panel = camera.readOnly ? (
    <section class="panel shape-editor">
      <h2>Masks and detection region</h2>
      <ShapeList draft={draft} />
      <p class="muted small">This camera is read-only here: change its masks where it is declared.</p>
    </section>
  ) : (
    <section class="panel shape-editor">
      <h2>Masks and detection region</h2>
      <p class="muted small">
        Motion inside a mask is ignored; faces are looked for only inside the detection region. Drag on the picture to
        draw.
      </p>
      <ShapeList
        draft={draft}
        onDelete={(i) => setDraft((d) => ({ ...d, masks: d.masks.filter((_m, j) => j !== i) }))}
        onClearRegion={() => setDraft((d) => ({ ...d, region: null }))}
      />
      <div class="editor-actions">
        <button type="button" aria-pressed={mode === 'mask'} onClick={() => setMode(mode === 'mask' ? 'none' : 'mask')}>
          {mode === 'mask' ? 'Drag on the picture…' : 'Draw a mask'}
        </button>
        <button
          type="button"
          aria-pressed={mode === 'region'}
          onClick={() => setMode(mode === 'region' ? 'none' : 'region')}
        >
          {mode === 'region' ? 'Drag on the picture…' : 'Set the detection region'}
        </button>
        <button type="button" class="primary" disabled={!dirty || busy} onClick={() => void save()}>
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button type="button" disabled={!dirty || busy} onClick={() => setDraft(draftOf(camera))}>
          Undo changes
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
  return { state, panel };
}

function ShapeList({
  draft,
  onDelete,
  onClearRegion,
}: {
  draft: Draft;
  onDelete?: (index: number) => void;
  onClearRegion?: () => void;
}) {
  return (
    <>
      <p class="detect-region small">
        Detection region: {draft.region ? describeShape(draft.region) : 'the whole frame'}
        {draft.region && onClearRegion && (
          <button type="button" class="link" onClick={onClearRegion}>
            clear
          </button>
        )}
      </p>
      {draft.masks.length === 0 ? (
        <p class="muted small">No masks.</p>
      ) : (
        <ol class="mask-list small">
          {draft.masks.map((m, i) => (
            <li key={i} class="mask-item">
              {describeShape(m)}
              {onDelete && (
                <button type="button" class="link" onClick={() => onDelete(i)}>
                  delete
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
