// The cameras added over the API, kept in SQLite table cameras_settings (config and session cameras are not).
import type { Database } from 'better-sqlite3';
import type { CameraSettings } from '../types.ts';
import { StoredAnalysis } from './settings.ts';

export const CAMERAS_SCHEMA = `
CREATE TABLE IF NOT EXISTS cameras_settings (
  id             TEXT    PRIMARY KEY,
  name           TEXT    NOT NULL,
  url            TEXT    NOT NULL,
  enabled        INTEGER NOT NULL,
  max_detect_fps REAL    NOT NULL,
  input_fps      REAL    NOT NULL,
  created_at     INTEGER NOT NULL,
  analysis       TEXT    NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
`;

/** Motion, masks, region and decode width, as JSON: their shapes are the settings schema's, and will grow. */
export function analysisOf(s: CameraSettings): string {
  const { motion, motionThreshold, motionMinArea, masks, detectRegion, detectWidth } = s;
  return JSON.stringify({ motion, motionThreshold, motionMinArea, masks, detectRegion, detectWidth });
}

interface CameraRow {
  id: string;
  name: string;
  url: string;
  enabled: number;
  max_detect_fps: number;
  input_fps: number;
  analysis: string;
}

/**
 * Where the cameras added over the API are kept: this SQLite table (one node), or in cluster mode the shared
 * database (server/cluster), which every node follows.
 */
export interface CameraCatalog {
  insert(s: CameraSettings, createdAt: number): void | Promise<void>;
  update(s: CameraSettings): void | Promise<void>;
  delete(id: string): void | Promise<void>;
  /** Every camera, in the order they were added. */
  all(): CameraSettings[] | Promise<CameraSettings[]>;
}

export class CameraStore implements CameraCatalog {
  /** `motion`: for cameras stored before motion gating existed. */
  constructor(
    private readonly db: Database,
    private readonly motion = true,
  ) {
    db.exec(CAMERAS_SCHEMA);
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(cameras_settings)').all();
    if (!columns.some((c) => c.name === 'analysis'))
      db.exec("ALTER TABLE cameras_settings ADD COLUMN analysis TEXT NOT NULL DEFAULT '{}'");
  }

  insert(s: CameraSettings, createdAt: number): void {
    this.db
      .prepare(
        'INSERT INTO cameras_settings (id, name, url, enabled, max_detect_fps, input_fps, created_at, analysis) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(s.id, s.name, s.url, s.enabled ? 1 : 0, s.maxDetectFps, s.inputFps, createdAt, analysisOf(s));
  }

  update(s: CameraSettings): void {
    this.db
      .prepare(
        'UPDATE cameras_settings SET name = ?, url = ?, enabled = ?, max_detect_fps = ?, input_fps = ?, analysis = ? WHERE id = ?',
      )
      .run(s.name, s.url, s.enabled ? 1 : 0, s.maxDetectFps, s.inputFps, analysisOf(s), s.id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM cameras_settings WHERE id = ?').run(id);
  }

  /** Every stored camera, in the order they were added. */
  all(): CameraSettings[] {
    const rows = this.db
      .prepare<[], CameraRow>(
        'SELECT id, name, url, enabled, max_detect_fps, input_fps, analysis FROM cameras_settings ORDER BY created_at, id',
      )
      .all();
    return rows.map((r) =>
      storedSettings(
        {
          id: r.id,
          name: r.name,
          url: r.url,
          enabled: r.enabled !== 0,
          maxDetectFps: r.max_detect_fps,
          inputFps: r.input_fps,
        },
        safeJson(r.analysis),
        this.motion,
      ),
    );
  }
}

/** A stored camera's settings; `motion` is for cameras stored before motion gating existed. */
export function storedSettings(
  base: Pick<CameraSettings, 'id' | 'name' | 'url' | 'enabled' | 'maxDetectFps' | 'inputFps'>,
  analysisJson: unknown,
  motion: boolean,
): CameraSettings {
  // A row this version cannot read (edited by hand) keeps its camera, with the default motion settings.
  const parsed = StoredAnalysis.safeParse(analysisJson);
  const analysis = parsed.success ? parsed.data : StoredAnalysis.parse({});
  return { ...base, ...analysis, motion: analysis.motion ?? motion };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
