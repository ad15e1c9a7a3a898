// The files the face models open, by role, resolved from the manifest on the main thread and handed to worker
// threads as plain paths: a thread imports only this module's types, so its start does not load the manifest's
// parser (zod, ~0.3 s of a thread's start).
import { modelPath } from './manifest.ts';

/** MTCNN's three nets and the pixel graphs (resizing, crop sampling) facerec generates for it. */
export const MTCNN_GRAPHS = ['planar', 'base', 'resize', 'crop24', 'crop48', 'pnet', 'rnet', 'onet'] as const;
export type MtcnnGraph = (typeof MTCNN_GRAPHS)[number];

export interface FaceModelFiles {
  mtcnn: Record<MtcnnGraph, string>;
  /** `name` is the manifest's, part of every cached embedding's key. */
  embedder: { name: string; path: string };
}

/** One value per MTCNN graph, e.g. its file or its opened session. */
export function byMtcnnGraph<T>(value: (graph: MtcnnGraph, index: number) => T): Record<MtcnnGraph, T> {
  return Object.fromEntries(MTCNN_GRAPHS.map((g, i) => [g, value(g, i)])) as Record<MtcnnGraph, T>;
}

/** The built files of the MTCNN graphs and of `embedder`; throws ModelsMissingError naming the first missing. */
export function faceModelFiles(embedder = 'mobilefacenet'): FaceModelFiles {
  const mtcnn = byMtcnnGraph((g) => modelPath(g));
  return { mtcnn, embedder: { name: embedder, path: modelPath(embedder) } };
}
