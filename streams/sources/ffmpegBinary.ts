// Which ffmpeg to run, and its version (option names changed between releases).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { FfmpegError } from './ffmpegErrors.ts';

export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The system `ffmpeg` on PATH (distribution builds are current and have every codec), else the static build
 * shipped by @ffmpeg-installer/ffmpeg (a 2018 4.x snapshot: works, but old).
 */
export function resolveFfmpeg(): string {
  const system = onPath('ffmpeg');
  if (system) return system;
  try {
    const installer = createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string };
    return installer.path;
  } catch {
    // The installer throws a plain string when its platform package is missing.
    throw new FfmpegError(
      'not_found',
      'ffmpeg not found: install it (apt-get install ffmpeg) or @ffmpeg-installer/ffmpeg',
    );
  }
}

export interface FfmpegVersion {
  major: number;
  minor: number;
}

export interface FfmpegInfo {
  path: string;
  /** The release; for git snapshots ("N-12345-g…") inferred from libavformat's major version. */
  version: FfmpegVersion;
  libavformat: FfmpegVersion;
  /** ffmpeg -version's first line. */
  banner: string;
}

let info: FfmpegInfo | undefined;

/** Runs `ffmpeg -version` once per process (a few ms, synchronous) and caches the answer. */
export function ffmpegInfo(): FfmpegInfo {
  if (info) return info;
  const bin = resolveFfmpeg();
  const result = spawnSync(bin, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error || result.status !== 0) {
    throw new FfmpegError(
      'not_found',
      `cannot run ${bin} -version: ${result.error?.message ?? `exit ${result.status}`}`,
    );
  }
  const text = result.stdout;
  const banner = text.split('\n', 1)[0] ?? '';
  const lavf = /libavformat\s+(\d+)\.\s*(\d+)/.exec(text);
  const libavformat = { major: Number(lavf?.[1] ?? 0), minor: Number(lavf?.[2] ?? 0) };
  const release = /^ffmpeg version n?(\d+)\.(\d+)/.exec(banner);
  // libavformat 58 shipped with ffmpeg 4, 59 with 5, 60 with 6, 61 with 7, 62 with 8.
  const version = release
    ? { major: Number(release[1]), minor: Number(release[2]) }
    : { major: libavformat.major >= 57 ? libavformat.major - 54 : 0, minor: 0 };
  info = { path: bin, version, libavformat, banner };
  return info;
}

/**
 * RTSP's socket I/O timeout (µs) is `-timeout` from ffmpeg 5; in 4.x it is `-stimeout`, and 4.x's `-timeout` means
 * something else entirely (listen for an incoming connection), so the name must follow the version.
 */
export function rtspTimeoutFlag(v: FfmpegVersion = ffmpegInfo().version): '-timeout' | '-stimeout' {
  return v.major >= 5 ? '-timeout' : '-stimeout';
}
