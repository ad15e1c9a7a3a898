// The cameras added over the API, in cluster mode: rows of the shared database's cameras table (the source of
// truth; every node follows it), in the same shape as the single-node SQLite table. Leases live in the same rows
// (leases.ts) and are left alone here.
import type pg from 'pg';
import { analysisOf, type CameraCatalog, storedSettings } from '../../streams/cameras/cameraStore.ts';
import type { CameraSettings } from '../../streams/types.ts';
import { notifyChange } from './database.ts';

interface Row {
  id: string;
  name: string;
  url: string;
  enabled: boolean;
  max_detect_fps: number;
  input_fps: number;
  analysis: unknown;
}

export class SharedCameraCatalog implements CameraCatalog {
  /** `motion`: for rows that say nothing about motion gating (CAMERA_MOTION). */
  constructor(
    private readonly pool: pg.Pool,
    private readonly motion: boolean,
  ) {}

  async insert(s: CameraSettings, createdAt: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO cameras (id, name, url, enabled, max_detect_fps, input_fps, analysis, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)`,
      [s.id, s.name, s.url, s.enabled, s.maxDetectFps, s.inputFps, analysisOf(s), createdAt],
    );
    await notifyChange(this.pool);
  }

  async update(s: CameraSettings): Promise<void> {
    await this.pool.query(
      `UPDATE cameras SET name = $2, url = $3, enabled = $4, max_detect_fps = $5, input_fps = $6,
              analysis = $7::jsonb WHERE id = $1`,
      [s.id, s.name, s.url, s.enabled, s.maxDetectFps, s.inputFps, analysisOf(s)],
    );
    await notifyChange(this.pool);
  }

  async delete(id: string): Promise<void> {
    await this.pool.query(
      `WITH gone AS (DELETE FROM cameras WHERE id = $1 RETURNING id, epoch)
       UPDATE camera_leases l SET ended_at = now() FROM gone
        WHERE l.camera_id = gone.id AND l.epoch = gone.epoch AND l.ended_at IS NULL`,
      [id],
    );
    await notifyChange(this.pool);
  }

  async all(): Promise<CameraSettings[]> {
    const { rows } = await this.pool.query<Row>(
      'SELECT id, name, url, enabled, max_detect_fps, input_fps, analysis FROM cameras ORDER BY created_at, id',
    );
    return rows.map((r) =>
      storedSettings(
        {
          id: r.id,
          name: r.name,
          url: r.url,
          enabled: r.enabled,
          maxDetectFps: r.max_detect_fps,
          inputFps: r.input_fps,
        },
        r.analysis,
        this.motion,
      ),
    );
  }
}
