// Real Chromium for the dashboard and webcam tests: Debian's /usr/bin/chromium driven by playwright-core (never a
// downloaded browser). Screenshots go to the git-ignored artifacts/ folder, which CI keeps.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));

export interface BrowserOptions {
  /** A .y4m clip Chromium plays as its webcam (the fake capture device). */
  fakeCamera?: string;
  /** Whether pages get the camera (default); 'denied' answers every camera request as a user refusing it. */
  cameraPermission?: 'granted' | 'denied';
}

export async function launchBrowser(options: BrowserOptions = {}): Promise<Browser> {
  const args = [
    '--no-sandbox', // CI runs as root
    '--disable-dev-shm-usage',
    '--disable-gpu',
    // WebRTC to a server on 127.0.0.1: Chromium hides loopback candidates unless told otherwise.
    '--allow-loopback-in-peer-connection',
  ];
  if (options.fakeCamera) {
    args.push('--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${options.fakeCamera}`);
    // The fake permission prompt accepts; without it, headless Chromium refuses (NotAllowedError).
    if (options.cameraPermission !== 'denied') args.push('--use-fake-ui-for-media-stream');
  }
  return chromium.launch({ executablePath: CHROMIUM, args, timeout: 30_000 });
}

/** Saves a full-page screenshot as artifacts/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
