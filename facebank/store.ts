// The SQLite side: embeddings cached by (content sha256, model id), and the person/file index of the tree.
// The Database is opened by the server (one file for the whole app); this module only creates its own tables.
import type { Database, Statement } from 'better-sqlite3';
import { z } from 'zod';
import type { QualityMeasures } from '../models/quality.ts';
import { ANALYSIS_RULES_VERSION } from './analysis.ts';
import { ANALYSIS_STATUSES, type AnalysisStatus } from './types.ts';

export interface CachedAnalysis {
  status: AnalysisStatus;
  message: string | undefined;
  /** L2-normalised; undefined for statuses without an embedding. */
  embedding: Float32Array | undefined;
  /** The embedded face's quality measures; undefined exactly when `embedding` is. */
  quality: QualityMeasures | undefined;
}

const StoredQuality = z.object({
  interOcular: z.number(),
  blur: z.number(),
  yaw: z.number(),
  pitch: z.number(),
  roll: z.number(),
  confidence: z.number().optional(),
});

export interface IndexedFile {
  person: string;
  file: string;
  sha256: string;
  size: number;
  mtimeMs: number;
}

const STATUS_LIST = ANALYSIS_STATUSES.map((s) => `'${s}'`).join(', ');

/** Idempotent. Embeddings are little-endian float32 (the byte order of every platform onnxruntime runs on). */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS facebank_analyses (
  sha256     TEXT    NOT NULL,
  model_id   TEXT    NOT NULL,
  status     TEXT    NOT NULL CHECK (status IN (${STATUS_LIST})),
  message    TEXT,
  embedding  BLOB,
  dim        INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  quality    TEXT,
  PRIMARY KEY (sha256, model_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS facebank_files (
  person     TEXT    NOT NULL,
  file       TEXT    NOT NULL,
  sha256     TEXT    NOT NULL,
  size       INTEGER NOT NULL,
  mtime_ms   REAL    NOT NULL,
  PRIMARY KEY (person, file)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS facebank_files_sha256 ON facebank_files (sha256);
`;

interface AnalysisRow {
  status: string;
  message: string | null;
  embedding: Buffer | null;
  quality: string | null;
}

/** Quality measures as stored (JSON); undefined when absent or unreadable. */
function parseQuality(text: string | null): QualityMeasures | undefined {
  if (text === null) return undefined;
  try {
    const q = StoredQuality.parse(JSON.parse(text));
    return { ...q, confidence: q.confidence };
  } catch {
    return undefined;
  }
}

function toBlob(e: Float32Array): Buffer {
  return Buffer.from(e.buffer, e.byteOffset, e.byteLength);
}

function fromBlob(b: Buffer): Float32Array {
  // Copy: a Buffer's offset into its pool need not be 4-byte aligned.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/**
 * The model_id column of an analysis: the model and the version of the rules that decided its status, so a rule
 * change (e.g. enrolling the subject of a photo once refused as several_faces) takes effect on the next scan
 * instead of being masked by rows cached under the old rules.
 */
/**
 * How a recomputable embedding (a facebank image's, an event crop's) was made: the model and whether the mirrored
 * face was added (FLIP). Another key means making it again, never comparing it. Negative examples are keyed by
 * the model alone: they are the users' feedback and cannot be made again, and a mirrored face changes little.
 */
export function embeddingKey(modelId: string, flip: boolean): string {
  return flip ? `${modelId}+flip` : modelId;
}

export function analysisKey(modelId: string): string {
  return `${modelId};rules=${ANALYSIS_RULES_VERSION}`;
}

export class FacebankStore {
  private readonly getAnalysis: Statement<[string, string], AnalysisRow>;
  private readonly putAnalysis: Statement<
    [string, string, string, string | null, Buffer | null, number, number, string | null]
  >;
  private readonly putFile: Statement<[string, string, string, number, number]>;
  private readonly deleteFile: Statement<[string, string]>;
  private readonly deletePersonFiles: Statement<[string]>;
  private readonly renamePersonFiles: Statement<[string, string]>;
  private readonly allFiles: Statement<
    [],
    { person: string; file: string; sha256: string; size: number; mtime_ms: number }
  >;
  private readonly clearFiles: Statement<[]>;
  private readonly key: string;

  constructor(
    private readonly db: Database,
    readonly modelId: string,
  ) {
    this.key = analysisKey(modelId);
    if (!db.memory) db.pragma('journal_mode = WAL');
    db.exec(SCHEMA);
    // Tables made before face quality existed: their rows without quality are recomputed (see get).
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(facebank_analyses)').all();
    if (!columns.some((c) => c.name === 'quality')) db.exec('ALTER TABLE facebank_analyses ADD COLUMN quality TEXT');
    this.getAnalysis = db.prepare(
      'SELECT status, message, embedding, quality FROM facebank_analyses WHERE sha256 = ? AND model_id = ?',
    );
    this.putAnalysis = db.prepare(
      `INSERT INTO facebank_analyses (sha256, model_id, status, message, embedding, dim, created_at, quality)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sha256, model_id) DO UPDATE SET
         status = excluded.status, message = excluded.message, embedding = excluded.embedding,
         dim = excluded.dim, created_at = excluded.created_at, quality = excluded.quality`,
    );
    this.putFile = db.prepare(
      `INSERT INTO facebank_files (person, file, sha256, size, mtime_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (person, file) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, mtime_ms = excluded.mtime_ms`,
    );
    this.deleteFile = db.prepare('DELETE FROM facebank_files WHERE person = ? AND file = ?');
    this.deletePersonFiles = db.prepare('DELETE FROM facebank_files WHERE person = ?');
    this.renamePersonFiles = db.prepare('UPDATE facebank_files SET person = ? WHERE person = ?');
    this.allFiles = db.prepare('SELECT person, file, sha256, size, mtime_ms FROM facebank_files');
    this.clearFiles = db.prepare('DELETE FROM facebank_files');
  }

  /**
   * The cached analysis of this content under this store's model id. An embedding cached without its quality
   * (by a version before face quality) is a miss: the image is analysed again rather than judged blind.
   */
  get(sha256: string): CachedAnalysis | undefined {
    const row = this.getAnalysis.get(sha256, this.key);
    if (row === undefined) return undefined;
    if (!(ANALYSIS_STATUSES as readonly string[]).includes(row.status)) return undefined;
    const quality = parseQuality(row.quality);
    if (row.embedding !== null && quality === undefined) return undefined;
    return {
      status: row.status as AnalysisStatus,
      message: row.message ?? undefined,
      embedding: row.embedding === null ? undefined : fromBlob(row.embedding),
      quality: row.embedding === null ? undefined : quality,
    };
  }

  put(sha256: string, a: CachedAnalysis): void {
    this.putAnalysis.run(
      sha256,
      this.key,
      a.status,
      a.message ?? null,
      a.embedding === undefined ? null : toBlob(a.embedding),
      a.embedding?.length ?? 0,
      Date.now(),
      a.quality === undefined ? null : JSON.stringify(a.quality),
    );
  }

  /** Records one image: its analysis (if given) and its place in the tree, in one transaction. */
  putImage(f: IndexedFile, a?: CachedAnalysis): void {
    this.db.transaction(() => {
      if (a !== undefined) this.put(f.sha256, a);
      this.putFile.run(f.person, f.file, f.sha256, f.size, f.mtimeMs);
    })();
  }

  removeImage(person: string, file: string): void {
    this.deleteFile.run(person, file);
  }

  removePerson(person: string): void {
    this.deletePersonFiles.run(person);
  }

  renamePerson(from: string, to: string): void {
    this.db.transaction(() => {
      this.deletePersonFiles.run(to);
      this.renamePersonFiles.run(to, from);
    })();
  }

  files(): IndexedFile[] {
    return this.allFiles.all().map((r) => ({
      person: r.person,
      file: r.file,
      sha256: r.sha256,
      size: r.size,
      mtimeMs: r.mtime_ms,
    }));
  }

  /** Makes the file index exactly `files` (after a scan). */
  replaceFiles(files: readonly IndexedFile[]): void {
    this.db.transaction(() => {
      this.clearFiles.run();
      for (const f of files) this.putFile.run(f.person, f.file, f.sha256, f.size, f.mtimeMs);
    })();
  }
}
