// The facebank: people folders on disk (the source of truth), their embeddings cached in SQLite, a watcher
// that applies changes to the tree, matching, and enrolment writes. Enrolment calls and rescans run one at a
// time under one async mutex, so the watcher and the API never race.
import { EventEmitter } from 'node:events';
import { mkdir, realpath } from 'node:fs/promises';
import type { Database } from 'better-sqlite3';
import type { Logger } from '../models/logger.ts';
import { assessQuality, type QualityMeasures, qualityMessage } from '../models/quality.ts';
import { type Analyzer, analyzeImage, embedOneFace } from './analysis.ts';
import {
  createDir,
  deleteDir,
  exists,
  removeEmptyDir,
  removeFile,
  removeLeftovers,
  renameDir,
  writeNewFile,
  writeNewFolder,
} from './enrol.ts';
import type { ImpostorTail } from './impostorTail.ts';
import { Matcher, type Template, UNKNOWN } from './matcher.ts';
import { Mutex, Semaphore } from './mutex.ts';
import {
  candidateFileName,
  safeJoin,
  sanitizeStem,
  sniffFormat,
  validateImageName,
  validatePersonName,
} from './names.ts';
import { type GivenNegative, type Negative, type NegativeSource, NegativeStore } from './negatives.ts';
import { deriveOperatingPoint, type OperatingPoint } from './operatingPoint.ts';
import {
  type FileStamp,
  forEachLimited,
  hashFileStream,
  readAndHash,
  type ScannedFile,
  sameStamp,
  scanTree,
  sha256Hex,
  stampOf,
} from './scan.ts';
import { asStorageError, storageProblem } from './storageError.ts';
import { type CachedAnalysis, embeddingKey, FacebankStore, type IndexedFile } from './store.ts';
import {
  FacebankError,
  type FacebankImage,
  IMAGE_STATUSES,
  type ImageStatus,
  type Match,
  type PersonSummary,
  type Veto,
} from './types.ts';
import { TreeWatcher } from './watcher.ts';

export interface FacebankOptions {
  /** Created if missing. */
  dir: string;
  /** Opened once by the server; the facebank creates its `facebank_` tables in it and never closes it. */
  db: Database;
  /** The real FacePool in production and in tests. */
  analyzer: Analyzer;
  /** Part of every cache key, e.g. `mobilefacenet@<sha256 prefix>`: another id means recomputing. */
  modelId: string;
  /** The accepted rate of false names (strangers given a name): the threshold is derived from it. */
  fpir: number;
  /** An explicit cosine threshold (MATCH_THRESHOLD): overrides the derived one. */
  threshold?: number | undefined;
  /** The model's impostor calibration (calibration.ts), when it has one. */
  calibration?: ImpostorTail | undefined;
  /**
   * Faces scoring below this quality (models/quality.ts) are refused by addImage and flagged 'poor_quality' in
   * the folders (not used for matching); 0 accepts every face. The server passes its minFaceQuality setting.
   */
  minQuality: number;
  maxPixels: number;
  flip: boolean;
  /** Analyses in flight during a scan. */
  concurrency: number;
  watch: boolean;
  logger?: Logger;
}

export interface LoadProgress {
  /** Images resolved so far (from the cache or analysed). */
  done: number;
  total: number;
  /** Of `done`, those that needed no analysis. */
  cached: number;
}

/** What a 'changed' event carries (listeners may ignore it). */
export interface ChangeEvent {
  reason:
    | 'rescan'
    | 'createPerson'
    | 'addImage'
    | 'removeImage'
    | 'renamePerson'
    | 'deletePerson'
    | 'addNegative'
    | 'removeNegative';
}

/** Quiet time after the last filesystem event before the tree is rescanned. */
export const WATCH_DEBOUNCE_MS = 300;
/** Files read and hashed at once during a scan. */
const HASH_CONCURRENCY = 16;
/** Larger files are indexed as invalid images without being read into memory or analysed. */
export const MAX_IMAGE_BYTES = 64 * 1024 * 1024;
/** Matchers without some people kept for negatives' fall-through, at most. */
const MAX_MATCHERS_WITHOUT = 16;
/** How often `onProgress` is called while loading (plus once at the start and once at the end). */
const PROGRESS_INTERVAL_MS = 1000;

interface Entry {
  person: string;
  file: string;
  sha256: string;
  status: ImageStatus;
  message: string | undefined;
  embedding: Float32Array | undefined;
  quality: QualityMeasures | undefined;
  stamp: FileStamp;
}

type Tree = Map<string, Map<string, Entry>>;

function toImage(e: Entry): FacebankImage {
  return {
    person: e.person,
    file: e.file,
    status: e.status,
    ...(e.message === undefined ? {} : { message: e.message }),
    sha256: e.sha256,
  };
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function summary(name: string, files: Map<string, Entry>): PersonSummary {
  return { name, images: [...files.values()].sort((a, b) => byName(a.file, b.file)).map(toImage) };
}

/**
 * An analysis as the facebank uses it: an embedded face too poor to trust becomes 'poor_quality' (kept on disk,
 * never matched). Judged from the cached measures, so a new limit needs no new analysis.
 */
function judge(a: CachedAnalysis, minQuality: number): Pick<Entry, 'status' | 'message' | 'embedding' | 'quality'> {
  if (a.status === 'embedded' && a.quality !== undefined) {
    const q = assessQuality(a.quality, minQuality);
    if (q.verdict === 'poor') {
      return {
        status: 'poor_quality',
        message: `${qualityMessage(q)}; not used for matching`,
        embedding: a.embedding,
        quality: a.quality,
      };
    }
  }
  return { status: a.status, message: a.message, embedding: a.embedding, quality: a.quality };
}

function stampKey(s: FileStamp): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Facebank extends EventEmitter {
  private tree: Tree = new Map();
  private matcher = new Matcher([]);
  /** The templates `matcher` was built from, for matchers without some people (negatives' fall-through). */
  private templates: Template[] = [];
  /** Matchers without the people named in the key (sorted, NUL-joined); emptied when the templates change. */
  private readonly without = new Map<string, Matcher>();
  private op: OperatingPoint | undefined;
  private readonly mutex = new Mutex();
  private watcher: TreeWatcher | undefined;
  private queuedRescan: Promise<void> | undefined;
  private closed = false;
  private readonly warned = new Set<string>();
  /** Person folder → inode, from the last scan (what the watcher watches). */
  private lastFolders = new Map<string, number>();
  /** The last cache write failed for want of storage (see cacheWrite). */
  private cacheFailing = false;

  private constructor(
    private readonly o: FacebankOptions,
    private readonly root: string,
    private readonly store: FacebankStore,
    private readonly negativeStore: NegativeStore,
  ) {
    super();
  }

  /**
   * Scans the tree, hashes every file, and analyses only images whose (sha256, model id) has no cached row,
   * `concurrency` at a time. `onProgress` is called at the start, about once a second, and at the end.
   */
  static async open(o: FacebankOptions, onProgress?: (p: LoadProgress) => void): Promise<Facebank> {
    await mkdir(o.dir, { recursive: true });
    const root = await realpath(o.dir);
    const fb = new Facebank(
      o,
      root,
      new FacebankStore(o.db, embeddingKey(o.modelId, o.flip)),
      new NegativeStore(o.db, o.modelId),
    );
    const started = performance.now();
    await fb.mutex.run(async () => {
      const leftovers = await removeLeftovers(root);
      if (leftovers.length > 0) o.logger?.warn({ leftovers }, 'facebank: removed files left by an interrupted write');
      await fb.applyScan(onProgress, true);
    });
    if (o.watch) {
      fb.watcher = new TreeWatcher(root, () => fb.onWatchEvent(), WATCH_DEBOUNCE_MS, o.logger);
      fb.watcher.start(fb.lastFolders);
      // Catch what changed while the first scan ran, before the folders were watched (stat-only when nothing did).
      await fb.rescan();
    }
    o.logger?.info(
      { ...fb.stats(), ms: Math.round(performance.now() - started), dir: root, watching: o.watch },
      'facebank loaded',
    );
    return fb;
  }

  /** The cosine threshold in force (re-derived whenever the facebank changes). */
  get threshold(): number {
    return this.operatingPoint.threshold;
  }

  /** The threshold in force and why. */
  get operatingPoint(): OperatingPoint {
    this.op ??= this.derive();
    return this.op;
  }

  /** The quality below which faces are not enrolled (and, in recognition, not named). */
  get minQuality(): number {
    return this.o.minQuality;
  }

  /** The absolute facebank directory (symlinks resolved). */
  get dir(): string {
    return this.root;
  }

  /** Part of every cache key: embeddings of another model are never compared with this facebank's. */
  get modelId(): string {
    return this.o.modelId;
  }

  /**
   * The matcher's answer, unless the face is the same face as a negative example of the person it names: then
   * that person is passed over (recorded in `vetoed`) and the face goes to the next person who passes the
   * operating point, or Unknown.
   */
  match(embedding: Float32Array): Match {
    let m = this.matcher.match(embedding, this.threshold);
    const vetoed: Veto[] = [];
    while (m.name !== UNKNOWN && m.candidate !== undefined) {
      const veto = this.negativeStore.veto(m.candidate, embedding, this.templatesOf(m.candidate));
      if (veto === undefined) break;
      vetoed.push(veto);
      m = this.matcherWithout(vetoed.map((v) => v.person)).match(embedding, this.threshold);
    }
    return vetoed.length === 0 ? m : { ...m, vetoed };
  }

  /** The person's negative examples, oldest first. */
  negatives(name: string): Negative[] {
    const person = validatePersonName(name);
    this.files(person);
    return this.negativeStore.list(person);
  }

  /** Every person's negative examples. */
  everyNegative(): Negative[] {
    return this.negativeStore.all();
  }

  /**
   * Stores "this face is not `person`" (the embedding of an event's crop, or of an uploaded image). Returns the
   * negative and whether it is new (the same event or image rejected twice gives the first one back). `given`:
   * the id and time the shared database gave it (cluster mode), the same on every node.
   */
  async addNegative(
    name: string,
    embedding: Float32Array,
    source: NegativeSource,
    given?: GivenNegative,
  ): Promise<{ negative: Negative; created: boolean }> {
    const person = validatePersonName(name);
    return this.locked(async () => {
      this.files(person);
      if (this.matcher.dim !== 0 && embedding.length !== this.matcher.dim) {
        throw new Error(
          `the embedding has ${embedding.length} dimensions; the facebank's templates have ${this.matcher.dim}`,
        );
      }
      const added = this.negativeStore.add(person, embedding, source, given);
      if (added.created) this.changed('addNegative');
      return added;
    });
  }

  /** `addNegative` from an image of one face (the largest face is taken; a crop without a detectable face too). */
  async addNegativeImage(name: string, bytes: Uint8Array): Promise<{ negative: Negative; created: boolean }> {
    const { person, embedding, source } = await this.imageNegative(name, bytes);
    return this.addNegative(person, embedding, source);
  }

  /** What `addNegativeImage` stores, not stored yet: the image checked and its face embedded. */
  async imageNegative(
    name: string,
    bytes: Uint8Array,
  ): Promise<{ person: string; embedding: Float32Array; source: NegativeSource }> {
    const person = validatePersonName(name);
    this.files(person);
    if (bytes.byteLength === 0) throw new FacebankError('invalid_image', 'the image is empty');
    if (bytes.byteLength > MAX_IMAGE_BYTES) {
      throw new FacebankError('invalid_image', `the image is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB`);
    }
    if (sniffFormat(bytes) === undefined) {
      throw new FacebankError('invalid_image', 'the data is not a JPEG, PNG or WebP image');
    }
    const embedding = await this.embedFace(bytes);
    return { person, embedding, source: { kind: 'image', sha256: sha256Hex(bytes) } };
  }

  /**
   * The embedding of the one face an image is about (an event's crop: its largest face, or the whole image), as
   * the facebank embeds its own images, so it compares with the templates. Waits out a busy pool.
   */
  embedFace(bytes: Uint8Array): Promise<Float32Array> {
    return this.retryingOverload(() => embedOneFace(this.o.analyzer, bytes, this.o));
  }

  /** Undo of a negative example. */
  async removeNegative(name: string, id: number): Promise<void> {
    const person = validatePersonName(name);
    return this.locked(async () => {
      this.files(person);
      if (!this.negativeStore.remove(person, id)) {
        throw new FacebankError('negative_not_found', `${JSON.stringify(person)} has no negative example ${id}`);
      }
      this.changed('removeNegative');
    });
  }

  people(): PersonSummary[] {
    return [...this.tree.keys()].sort(byName).map((name) => summary(name, this.tree.get(name)!));
  }

  person(name: string): PersonSummary {
    const person = validatePersonName(name);
    return summary(person, this.files(person));
  }

  stats(): { people: number; images: number; templates: number; byStatus: Record<ImageStatus, number> } {
    const byStatus = Object.fromEntries(IMAGE_STATUSES.map((s) => [s, 0])) as Record<ImageStatus, number>;
    let images = 0;
    for (const files of this.tree.values()) {
      for (const e of files.values()) {
        byStatus[e.status]++;
        images++;
      }
    }
    return { people: this.tree.size, images, templates: this.matcher.templates, byStatus };
  }

  async createPerson(name: string): Promise<PersonSummary> {
    const person = validatePersonName(name);
    return this.locked(async () => {
      if (this.tree.has(person)) throw new FacebankError('person_exists', `person ${JSON.stringify(person)} exists`);
      if (!(await createDir(safeJoin(this.root, person), this.root))) {
        throw new FacebankError('person_exists', `${JSON.stringify(person)} already exists in the facebank directory`);
      }
      const files = new Map<string, Entry>();
      this.tree.set(person, files);
      this.changed('createPerson');
      return summary(person, files);
    });
  }

  /**
   * Analyses the image (unless its content is cached) and writes it into the person's folder, creating the
   * folder if needed. Rejected images (invalid_image, several_faces) are not written. Content the person
   * already has is not written twice: the existing image is returned. An OverloadError from the pool is
   * passed on (the HTTP layer answers 503).
   */
  async addImage(person: string, bytes: Uint8Array, originalName?: string): Promise<FacebankImage> {
    const name = validatePersonName(person);
    if (bytes.byteLength === 0) throw new FacebankError('invalid_image', 'the image is empty');
    if (bytes.byteLength > MAX_IMAGE_BYTES) {
      throw new FacebankError('invalid_image', `the image is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB`);
    }
    const format = sniffFormat(bytes);
    if (format === undefined) throw new FacebankError('invalid_image', 'the data is not a JPEG, PNG or WebP image');
    const sha256 = sha256Hex(bytes);
    // Analysed under the lock too, so that calls take effect in call order (an add, then a rename, of one person).
    return this.locked(async () => {
      const existing = [...(this.tree.get(name)?.values() ?? [])].find((e) => e.sha256 === sha256);
      if (existing !== undefined) return toImage(existing);
      const cached = this.store.get(sha256);
      const analysis = cached ?? (await analyzeImage(this.o.analyzer, bytes, this.o));
      if (analysis.status === 'invalid_image') {
        throw new FacebankError('invalid_image', analysis.message ?? 'the image could not be decoded');
      }
      if (analysis.status === 'several_faces') {
        throw new FacebankError('several_faces', analysis.message ?? 'several faces of similar size');
      }
      if (analysis.embedding === undefined) throw new FacebankError('no_face', 'no face was found in the image');
      const judged = judge(analysis, this.minQuality);
      if (judged.status === 'poor_quality') {
        const q = assessQuality(analysis.quality!, this.minQuality);
        throw new FacebankError('poor_quality', `${qualityMessage(q)}; use a sharper, larger, frontal photo`);
      }

      const dir = safeJoin(this.root, name);
      const known = this.tree.get(name);
      const files = known ?? new Map<string, Entry>();
      const stem = sanitizeStem(originalName) ?? sha256.slice(0, 16);
      // A person enrolled by their first photo appears with it, never as an empty folder (enrol.ts).
      let fresh = !(await exists(dir));
      try {
        for (let attempt = 0; attempt < 1000; attempt++) {
          const file = validateImageName(candidateFileName(stem, format, attempt));
          if (files.has(file)) continue;
          const createsFolder = fresh;
          const st = fresh ? await writeNewFolder(this.root, name, file, bytes) : await writeNewFile(dir, file, bytes);
          fresh = false;
          if (st === undefined) continue; // taken on disk by a file or folder the scan has not seen yet
          const entry: Entry = { person: name, file, sha256, ...judged, stamp: stampOf(st) };
          try {
            // The row is written after the file is durably in place: a crash never leaves a row without its file.
            this.store.putImage(this.indexed(entry), cached === undefined ? analysis : undefined);
          } catch (err) {
            // No row (the database is full or read-only): no file either, nor the folder this photo created, so
            // the folders and the cache agree.
            await removeFile(dir, file).catch(() => undefined);
            if (createsFolder) await removeEmptyDir(dir);
            throw err;
          }
          files.set(file, entry);
          if (known === undefined) this.tree.set(name, files);
          this.rebuildMatcher();
          this.changed('addImage');
          return toImage(entry);
        }
      } catch (err) {
        throw asStorageError(err, `the photo of ${JSON.stringify(name)}`) ?? err;
      }
      throw new Error(`no free file name for ${stem} in ${JSON.stringify(name)}`);
    });
  }

  async removeImage(person: string, file: string): Promise<void> {
    const name = validatePersonName(person);
    const fileName = validateImageName(file);
    return this.locked(async () => {
      const files = this.files(name);
      const entry = files.get(fileName);
      if (entry === undefined) throw this.imageNotFound(name, fileName);
      // The row first: when the database cannot be written nothing changes; when the file cannot be removed
      // (read-only folder), the row is put back. Either way the cache never lists a file that is gone.
      this.store.removeImage(name, fileName);
      try {
        await removeFile(safeJoin(this.root, name), fileName);
      } catch (err) {
        this.cacheWrite(() => this.store.putImage(this.indexed(entry)));
        throw err;
      }
      files.delete(fileName);
      if (entry.embedding !== undefined) this.rebuildMatcher();
      this.changed('removeImage');
    });
  }

  async renamePerson(from: string, to: string): Promise<PersonSummary> {
    const source = validatePersonName(from);
    const target = validatePersonName(to);
    return this.locked(async () => {
      const files = this.files(source);
      if (source === target) return summary(source, files);
      if (this.tree.has(target) || (await exists(safeJoin(this.root, target)))) {
        throw new FacebankError('person_exists', `person ${JSON.stringify(target)} exists`);
      }
      this.negativeStore.beginRename(source, target);
      await renameDir(this.root, source, target);
      try {
        this.o.db.transaction(() => {
          this.store.renamePerson(source, target);
          this.negativeStore.renameRows(source, target);
        })();
      } catch (err) {
        // The database is full or read-only: the folder gets its old name back, so nothing has changed.
        await renameDir(this.root, target, source).catch((undo: unknown) =>
          this.o.logger?.error({ err: undo, from: target, to: source }, 'facebank: could not undo a rename'),
        );
        throw err;
      }
      this.negativeStore.renameHeld(source, target);
      const moved = new Map([...files].map(([f, e]) => [f, { ...e, person: target }]));
      this.tree.delete(source);
      this.tree.set(target, moved);
      this.rebuildMatcher();
      this.changed('renamePerson');
      return summary(target, moved);
    });
  }

  async deletePerson(name: string): Promise<void> {
    const person = validatePersonName(name);
    return this.locked(async () => {
      this.files(person);
      await deleteDir(this.root, person);
      // The folder (the truth) is gone, so the person is deleted even when the database cannot be written now:
      // their negatives are forgotten in memory, and the rows left go later (the file index at the next scan
      // that can write, negatives at the next start).
      this.cacheWrite(() => this.store.removePerson(person));
      this.cacheWrite(() => this.negativeStore.removePerson(person));
      this.tree.delete(person);
      this.rebuildMatcher();
      this.changed('deletePerson');
    });
  }

  /** The absolute path of an indexed image (throws invalid_name, person_not_found or image_not_found). */
  imagePath(person: string, file: string): string {
    const name = validatePersonName(person);
    const fileName = validateImageName(file);
    if (!this.files(name).has(fileName)) throw this.imageNotFound(name, fileName);
    return safeJoin(this.root, name, fileName);
  }

  /**
   * Applies the tree on disk: new or changed files are hashed (unchanged ones are recognised by inode, size,
   * mtime and ctime), looked up in the cache and analysed if missing. Emits 'changed' if anything changed.
   * Calls made while one is already waiting for the lock share it.
   */
  rescan(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.queuedRescan !== undefined) return this.queuedRescan;
    const run = this.mutex.run(async () => {
      this.queuedRescan = undefined;
      if (!this.closed) await this.applyScan(undefined, false);
    });
    this.queuedRescan = run;
    return run;
  }

  /** Stops the watcher and waits for the running operation; does not close the database. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    await this.mutex.idle();
  }

  // ---- internals

  private onWatchEvent(): void {
    this.rescan().catch((err: unknown) => this.o.logger?.error({ err }, 'facebank: rescan after a change failed'));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the facebank is closed');
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.mutex.run(async () => {
      this.assertOpen();
      try {
        return await fn();
      } catch (err) {
        throw asStorageError(err, 'the change to the facebank') ?? err;
      }
    });
  }

  /**
   * A write to the cache that may fail for want of storage without failing the operation around it. Logged once
   * per streak of failures, not once per image.
   */
  private cacheWrite(write: () => void): void {
    try {
      write();
      if (this.cacheFailing) this.o.logger?.info({}, 'facebank: the cache can be written again');
      this.cacheFailing = false;
    } catch (err) {
      const problem = storageProblem(err);
      if (problem === undefined) throw err;
      if (!this.cacheFailing) {
        this.o.logger?.warn(
          { problem, err: (err as Error).message },
          'facebank: the cache cannot be written (storage full or read-only); the folders stay the truth, and the cache is rewritten once it can be',
        );
      }
      this.cacheFailing = true;
    }
  }

  private files(person: string): Map<string, Entry> {
    const files = this.tree.get(person);
    if (files === undefined) throw new FacebankError('person_not_found', `no person ${JSON.stringify(person)}`);
    return files;
  }

  private imageNotFound(person: string, file: string): FacebankError {
    return new FacebankError('image_not_found', `${JSON.stringify(person)} has no image ${JSON.stringify(file)}`);
  }

  private indexed(e: Entry): IndexedFile {
    return { person: e.person, file: e.file, sha256: e.sha256, size: e.stamp.size, mtimeMs: e.stamp.mtimeMs };
  }

  private changed(reason: ChangeEvent['reason']): void {
    // The change is already on disk and in the cache: a listener's failure must not turn it into an error answer.
    try {
      this.emit('changed', { reason } satisfies ChangeEvent);
    } catch (err) {
      this.o.logger?.error({ err, reason }, 'facebank: a listener of facebank changes failed');
    }
  }

  private rebuildMatcher(): void {
    const templates: Template[] = [];
    for (const name of [...this.tree.keys()].sort(byName)) {
      for (const e of this.tree.get(name)!.values()) {
        // A poor face's embedding lies close to many people's (see README "Face quality"): not a template.
        if (e.embedding !== undefined && e.status !== 'poor_quality')
          templates.push({ person: name, embedding: e.embedding });
      }
    }
    const dims = new Set(templates.map((t) => t.embedding.length));
    if (dims.size > 1) throw new Error(`facebank templates have mixed dimensions: ${[...dims].join(', ')}`);
    this.matcher = new Matcher(templates);
    this.templates = templates;
    this.without.clear();
    const before = this.op;
    this.op = this.derive();
    if (before !== undefined && before.threshold !== this.op.threshold) {
      this.o.logger?.info(
        { ...this.op },
        `facebank: match threshold ${this.op.threshold.toFixed(3)} (${this.op.reason})`,
      );
    }
  }

  private templatesOf(person: string): Float32Array[] {
    const out: Float32Array[] = [];
    for (const e of this.tree.get(person)?.values() ?? []) if (e.embedding !== undefined) out.push(e.embedding);
    return out;
  }

  private matcherWithout(people: readonly string[]): Matcher {
    const key = [...people].sort(byName).join('\0');
    let m = this.without.get(key);
    if (m === undefined) {
      // Each is a copy of the templates: keep a few (one per person with negatives, in practice).
      if (this.without.size >= MAX_MATCHERS_WITHOUT) this.without.clear();
      const skip = new Set(people);
      m = new Matcher(this.templates.filter((t) => !skip.has(t.person)));
      this.without.set(key, m);
    }
    return m;
  }

  private derive(): OperatingPoint {
    return deriveOperatingPoint({
      override: this.o.threshold,
      fpir: this.o.fpir,
      people: this.matcher.people,
      calibration: this.o.calibration,
      impostorScores: this.o.threshold === undefined ? this.matcher.impostorScores() : [],
    });
  }

  /** Analyses through the pool, waiting out OverloadErrors (live traffic shares the pool). */
  private analyze(bytes: Uint8Array): Promise<CachedAnalysis> {
    return this.retryingOverload(() => analyzeImage(this.o.analyzer, bytes, this.o));
  }

  private async retryingOverload<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof Error) || err.name !== 'OverloadError' || attempt >= 30 || this.closed) throw err;
        await sleep(Math.min(2000, 50 * 2 ** attempt));
      }
    }
  }

  /** Resolves one scanned file to an entry: in-memory reuse, cache hit, or analysis. Undefined if unusable. */
  private async resolve(
    f: ScannedFile,
    previous: Map<string, Entry>,
    analyses: Semaphore,
    count: (cached: boolean) => void,
  ): Promise<Entry | undefined> {
    const old = previous.get(stampKey(f));
    if (old !== undefined && sameStamp(old.stamp, f)) {
      count(true);
      return { ...old, person: f.person, file: f.file, stamp: stampOf(f) };
    }
    const base = { person: f.person, file: f.file, stamp: stampOf(f) };
    if (f.size > MAX_IMAGE_BYTES) {
      const sha256 = await hashFileStream(f.path);
      count(true);
      if (sha256 === undefined) return undefined;
      const message = `the file is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB`;
      return { ...base, sha256, status: 'invalid_image', message, embedding: undefined, quality: undefined };
    }
    const read = await readAndHash(f.path);
    if (read === undefined) {
      count(true);
      return undefined; // removed meanwhile; the watcher reports it
    }
    const { bytes, sha256 } = read;
    let analysis = this.store.get(sha256);
    const hit = analysis !== undefined;
    if (analysis === undefined) {
      try {
        analysis = await analyses.run(() => this.analyze(bytes));
      } catch (err) {
        count(false);
        if (err instanceof Error && err.name === 'PoolClosedError') throw err;
        // Not cached: the image is left out of this scan and retried on the next one.
        this.o.logger?.error({ err, person: f.person, file: f.file }, 'facebank: analysing an image failed');
        return undefined;
      }
      // Uncached when the database cannot be written: the analysis still counts, and is redone next time.
      this.cacheWrite(() => this.store.put(sha256, analysis!));
    }
    count(hit);
    return { ...base, sha256, ...judge(analysis, this.minQuality) };
  }

  private async applyScan(onProgress: ((p: LoadProgress) => void) | undefined, initial: boolean): Promise<void> {
    const scanned = await scanTree(this.root);
    for (const s of scanned.skipped) {
      if (this.warned.has(s)) continue;
      this.warned.add(s);
      this.o.logger?.warn({ entry: s }, 'facebank: skipping an entry of the facebank directory');
    }
    const previous = new Map<string, Entry>();
    for (const files of this.tree.values()) for (const e of files.values()) previous.set(stampKey(e.stamp), e);

    const all = [...scanned.people.values()].flat();
    const progress: LoadProgress = { done: 0, total: all.length, cached: 0 };
    let lastReport = performance.now();
    const report = (force: boolean) => {
      if (onProgress === undefined) return;
      const now = performance.now();
      if (!force && now - lastReport < PROGRESS_INTERVAL_MS) return;
      lastReport = now;
      onProgress({ ...progress });
    };
    report(true);
    const count = (cached: boolean) => {
      progress.done++;
      if (cached) progress.cached++;
      if (progress.done < progress.total) report(false);
    };

    const analyses = new Semaphore(Math.max(1, this.o.concurrency));
    const results = new Map<ScannedFile, Entry | undefined>();
    await forEachLimited(all, HASH_CONCURRENCY, async (f) => {
      results.set(f, await this.resolve(f, previous, analyses, count));
    });
    report(true);

    const next: Tree = new Map();
    for (const [person, files] of scanned.people) {
      const entries = new Map<string, Entry>();
      for (const f of files) {
        const e = results.get(f);
        if (e !== undefined) entries.set(f.file, e);
      }
      next.set(person, entries);
    }
    this.lastFolders = scanned.folders;
    this.watcher?.sync(scanned.folders);

    const { content, stamps } = this.compare(next);
    this.tree = next;
    // The tree on disk is the truth: a cache that cannot be written (full or read-only storage) does not stop it
    // being applied; the index is rewritten by the next scan that can write.
    if (initial || content || stamps) {
      this.cacheWrite(() => this.store.replaceFiles([...this.entries()].map((e) => this.indexed(e))));
    }
    if (initial || content) {
      this.rebuildMatcher();
      if (initial) this.negativeStore.recoverRenames((person) => next.has(person));
      // Negatives go with their person, also when the folder was removed on disk.
      for (const person of this.negativeStore.people()) {
        if (!this.tree.has(person)) this.cacheWrite(() => this.negativeStore.removePerson(person));
      }
    }
    if (content && !initial) {
      this.o.logger?.info(this.stats(), 'facebank: applied a change on disk');
      this.changed('rescan');
    }
  }

  private *entries(): Iterable<Entry> {
    for (const files of this.tree.values()) yield* files.values();
  }

  /** Whether `next` differs from the current tree in people, files or content, or only in file stamps. */
  private compare(next: Tree): { content: boolean; stamps: boolean } {
    let stamps = false;
    if (next.size !== this.tree.size) return { content: true, stamps: true };
    for (const [person, files] of next) {
      const old = this.tree.get(person);
      if (old === undefined || old.size !== files.size) return { content: true, stamps: true };
      for (const [file, e] of files) {
        const o = old.get(file);
        if (o === undefined || o.sha256 !== e.sha256 || o.status !== e.status) {
          return { content: true, stamps: true };
        }
        if (!sameStamp(o.stamp, e.stamp)) stamps = true;
      }
    }
    return { content: false, stamps };
  }
}
