// The cameras added over the API, kept in SQLite table cameras_settings (config and session cameras are not).
import type { Database } from 'better-sqlite3';
import type { CameraSettings } from '../types.ts';

export const CAMERAS_SCHEMA = `
CREATE TABLE IF NOT EXISTS cameras_settings (
  id             TEXT    PRIMARY KEY,
  name           TEXT    NOT NULL,
  url            TEXT    NOT NULL,
  enabled        INTEGER NOT NULL,
  max_detect_fps REAL    NOT NULL,
  input_fps      REAL    NOT NULL,
  created_at     INTEGER NOT NULL
) WITHOUT ROWID;
`;

interface CameraRow {
  id: string;
  name: string;
  url: string;
  enabled: number;
  max_detect_fps: number;
  input_fps: number;
}

export class CameraStore {
  constructor(private readonly db: Database) {
    db.exec(CAMERAS_SCHEMA);
  }

  insert(s: CameraSettings, createdAt: number): void {
    this.db
      .prepare(
        'INSERT INTO cameras_settings (id, name, url, enabled, max_detect_fps, input_fps, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(s.id, s.name, s.url, s.enabled ? 1 : 0, s.maxDetectFps, s.inputFps, createdAt);
  }

  update(s: CameraSettings): void {
    this.db
      .prepare(
        'UPDATE cameras_settings SET name = ?, url = ?, enabled = ?, max_detect_fps = ?, input_fps = ? WHERE id = ?',
      )
      .run(s.name, s.url, s.enabled ? 1 : 0, s.maxDetectFps, s.inputFps, s.id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM cameras_settings WHERE id = ?').run(id);
  }

  /** Every stored camera, in the order they were added. */
  all(): CameraSettings[] {
    const rows = this.db
      .prepare<[], CameraRow>(
        'SELECT id, name, url, enabled, max_detect_fps, input_fps FROM cameras_settings ORDER BY created_at, id',
      )
      .all();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      url: r.url,
      enabled: r.enabled !== 0,
      maxDetectFps: r.max_detect_fps,
      inputFps: r.input_fps,
    }));
  }
}
