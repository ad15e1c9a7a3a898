// A progress bar on stderr for long CLI work: redrawn in place on a terminal, a line per 10% otherwise.
export interface Progress {
  tick(n?: number): void;
  done(): void;
}

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const start = performance.now();
  let count = 0;
  let lastDecile = -1;
  const render = () => {
    const fraction = total > 0 ? count / total : 1;
    const seconds = (performance.now() - start) / 1000;
    const rate = seconds > 0 ? count / seconds : 0;
    const eta = rate > 0 ? Math.round((total - count) / rate) : 0;
    const line = `${label} ${count}/${total} (${Math.floor(fraction * 100)}%) ${rate.toFixed(1)}/s ETA ${eta}s`;
    if (stream.isTTY) {
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
  return {
    tick(n = 1) {
      count += n;
      render();
    },
    done() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}
