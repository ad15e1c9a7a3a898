// A progress bar on stderr for long CLI work: redrawn in place on a terminal (at most 10 times a second),
// a line per 10% otherwise (CI logs).
export interface Progress {
  /** Advance by `n` items. */
  tick(n?: number): void;
  /** Set the number of items done. */
  set(done: number): void;
  done(): void;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const start = performance.now();
  let count = 0;
  let lastDecile = -1;
  let lastDraw = 0;
  const render = () => {
    const fraction = total > 0 ? Math.min(count / total, 1) : 1;
    const seconds = (performance.now() - start) / 1000;
    const rate = seconds > 0 ? count / seconds : 0;
    const eta = rate > 0 ? (total - count) / rate : Number.NaN;
    const line = `${label} ${count}/${total} (${Math.floor(fraction * 100)}%) ${rate.toFixed(1)}/s ETA ${clock(eta)}`;
    if (stream.isTTY) {
      const now = performance.now();
      if (count > 0 && count < total && now - lastDraw < 100) return;
      lastDraw = now;
      const width = 24;
      const filled = Math.round(fraction * width);
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}\x1b[K`);
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile !== lastDecile) {
        lastDecile = decile;
        stream.write(`${line}\n`);
      }
    }
  };
  render();
  const set = (done: number) => {
    count = done;
    render();
  };
  return {
    tick: (n = 1) => set(count + n),
    set,
    done() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}
