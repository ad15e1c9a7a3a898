// Connected regions of moving pixels in the small grey image.

export interface Blob {
  /** Bounding box in small-image pixels, x2 and y2 exclusive. */
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** Moving pixels in it (before the dilation that joins nearby fragments). */
  area: number;
}

/**
 * Blobs of `moving` (1 = moving), 8-connected after a 3×3 dilation, so a person's fragments (a wall showing
 * through between arm and body) make one region. Blobs with fewer than `minArea` moving pixels are dropped.
 */
export function findBlobs(moving: Uint8Array, width: number, height: number, minArea: number): Blob[] {
  const n = width * height;
  const grown = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (moving[y * width + x] === 0) continue;
      for (let yy = Math.max(0, y - 1); yy <= Math.min(height - 1, y + 1); yy++)
        for (let xx = Math.max(0, x - 1); xx <= Math.min(width - 1, x + 1); xx++) grown[yy * width + xx] = 1;
    }
  }
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const blobs: Blob[] = [];
  for (let start = 0; start < n; start++) {
    if (grown[start] === 0 || seen[start] === 1) continue;
    const blob: Blob = { x1: width, y1: height, x2: 0, y2: 0, area: 0 };
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const i = stack[--top]!;
      const x = i % width;
      const y = (i - x) / width;
      blob.area += moving[i]!;
      if (x < blob.x1) blob.x1 = x;
      if (y < blob.y1) blob.y1 = y;
      if (x + 1 > blob.x2) blob.x2 = x + 1;
      if (y + 1 > blob.y2) blob.y2 = y + 1;
      for (let yy = Math.max(0, y - 1); yy <= Math.min(height - 1, y + 1); yy++) {
        for (let xx = Math.max(0, x - 1); xx <= Math.min(width - 1, x + 1); xx++) {
          const j = yy * width + xx;
          if (grown[j] === 1 && seen[j] === 0) {
            seen[j] = 1;
            stack[top++] = j;
          }
        }
      }
    }
    if (blob.area >= minArea) blobs.push(blob);
  }
  return blobs;
}
