// The webcam page end to end in real Chromium: its fake camera plays a clip of an enrolled person's held-out
// photos, the page publishes it over WebRTC to a real server (werift, real ffmpeg, real models) behind an API key,
// and the page names the person on its own video. Closing the page ends the camera: removed from the registry,
// its ffmpeg gone. A camera that is refused or missing gets a clear message. Screenshots go to artifacts/.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { liveFfmpegPids } from '../../streams/sources/ffmpegProcesses.ts';
import { launchBrowser, screenshot } from '../support/browser.ts';
import { makeTestClip } from '../support/clips.ts';
import { isAlive } from '../support/processes.ts';
import { useTestServer } from '../support/server.ts';
import { personImage } from '../support/testdata.ts';

const PERSON = 'sheldon';
const API_KEY = 'webcam-test-key-0123';
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
// Waits here are not product promises (the webcam's latency is measured by `npm run bench:webrtc`): generous,
// so that a 2-core machine busy with other work still passes. The time to a name is printed.
const LOADED = 30_000;

describe('webcam page in Chromium (WebRTC, real models)', () => {
  // Photos 1 and 2 enrolled; the camera shows 3, 4 and 5.
  const server = useTestServer({
    facebank: [1, 2].map((n) => ({ person: PERSON, src: personImage(PERSON, n) })),
    config: { apiKey: API_KEY },
  });
  let dir = '';
  let clip = '';
  let browser: Browser;
  const pageErrors: string[] = [];

  const webcams = () => server.runtime.cameras.list().filter((c) => c.kind === 'webrtc');

  /** A page of `b` with the API key already entered (as the key prompt keeps it), errors collected. */
  const openWebcamPage = async (b: Browser, viewport = LAPTOP): Promise<Page> => {
    const context = await b.newContext({ viewport });
    await context.addInitScript(`sessionStorage.setItem('facerec.apiKey', ${JSON.stringify(API_KEY)})`);
    const page = await context.newPage();
    pages.push(page);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${server.url}/#/webcam`);
    return page;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'facerec-webcam-'));
    // 15 fps keeps the raw clip small (62 MB); Chromium loops it. 3 s per photo: each photo starts a new track,
    // named after 3 agreeing detections, which a busy 2-core machine may not manage within a shorter showing.
    clip = await makeTestClip(
      [3, 4, 5].map((n) => personImage(PERSON, n)),
      path.join(dir, 'webcam.y4m'),
      { fps: 15, secondsPerImage: 3 },
    );
    browser = await launchBrowser({ fakeCamera: clip });
  });

  // A test that fails half-way must not leave its page streaming into the server, loading the tests after it.
  const pages: Page[] = [];
  afterEach(async () => {
    await Promise.all(
      pages.splice(0).map((page) =>
        page
          .context()
          .close()
          .catch(() => {}),
      ),
    );
  });

  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('names the enrolled person on the page; closing the page removes the camera and its ffmpeg', async () => {
    const page = await openWebcamPage(browser);
    await page.getByRole('button', { name: 'Use my camera' }).click();
    const clicked = Date.now();
    const names = page.locator('.webcam-info .face-names');
    // The first frames of a new size are the pool's slowest (its inference arenas grow): twice the usual wait.
    await expect.poll(() => names.getAttribute('data-names'), { timeout: 2 * LOADED, interval: 50 }).toContain(PERSON);
    const namedAfter = Date.now() - clicked;
    expect(await names.locator('li.known').first().textContent()).toBe(PERSON);

    // One webcam camera on the server, live, fed by one ffmpeg decoder.
    expect(webcams()).toHaveLength(1);
    const [camera] = webcams();
    expect(camera?.health.state).toBe('live');
    const decoders = liveFfmpegPids();
    expect(decoders).toHaveLength(1);

    // The name is drawn over the video: the overlay has the known-face colour (#22c55e) on it (polled: the
    // overlay follows the latest detections, and a new photo's face is Unknown again until named).
    const overlayDrawn = () =>
      page.locator('canvas.webcam-overlay').evaluate((el) => {
        const canvas = el as unknown as {
          width: number;
          height: number;
          getContext(t: '2d'): {
            getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
          };
        };
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        for (let i = 0; i < data.length; i += 4)
          if (data[i] === 0x22 && data[i + 1] === 0xc5 && data[i + 2] === 0x5e) return true;
        return false;
      });
    await expect.poll(overlayDrawn, { timeout: LOADED, interval: 20 }).toBe(true);
    await expect.poll(() => page.locator('.webcam-info .badge').textContent(), { timeout: LOADED }).toBe('live');
    await expect
      .poll(() => page.locator('.webcam-info .stats').textContent(), { timeout: LOADED })
      .toMatch(/input[1-9]/);
    // The browser sends the size asked for, as its own WebRTC statistics say.
    await page.locator('.webcam-info', { hasText: 'sending 640×480' }).waitFor({ timeout: LOADED });
    console.log(`webcam: "${PERSON}" shown ${namedAfter} ms after the click (camera start and signalling included)`);
    // The clip changes photo every 3 s and each new face is Unknown until named: show a named moment.
    await expect.poll(() => names.getAttribute('data-names'), { timeout: LOADED, interval: 20 }).toBe(PERSON);
    await screenshot(page, 'webcam');

    await page.context().close();
    await expect.poll(() => webcams().length, { timeout: LOADED, interval: 100 }).toBe(0);
    await expect.poll(() => decoders.filter(isAlive), { timeout: LOADED, interval: 100 }).toEqual([]);
    expect(liveFfmpegPids()).toEqual([]);
  });

  it('Stop ends the camera; on a phone-sized screen the page fits and names the person again', async () => {
    const page = await openWebcamPage(browser, PHONE);
    await page.getByRole('button', { name: 'Use my camera' }).click();
    const names = page.locator('.webcam-info .face-names');
    await expect.poll(() => names.getAttribute('data-names'), { timeout: LOADED, interval: 50 }).toContain(PERSON);
    expect(await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await expect
      .poll(() => page.locator('.webcam-info .stats').textContent(), { timeout: LOADED })
      .toMatch(/input[1-9]/);
    await page.locator('.webcam-info', { hasText: 'sending 640×480' }).waitFor({ timeout: LOADED });
    await expect.poll(() => names.getAttribute('data-names'), { timeout: LOADED, interval: 20 }).toBe(PERSON);
    await screenshot(page, 'webcam-phone');

    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => webcams().length, { timeout: LOADED, interval: 100 }).toBe(0);
    await expect.poll(() => liveFfmpegPids(), { timeout: LOADED, interval: 100 }).toEqual([]);
    await page.getByRole('button', { name: 'Use my camera' }).waitFor({ timeout: LOADED });
    await page.context().close();
  });

  it('says so clearly when the camera is refused, or when there is none', async () => {
    const refusing = await launchBrowser({ fakeCamera: clip, cameraPermission: 'denied' });
    const noCamera = await launchBrowser();
    try {
      for (const [b, expected] of [
        [refusing, /Camera access was refused/],
        [noCamera, /No camera was found/],
      ] as const) {
        const page = await openWebcamPage(b);
        await page.getByRole('button', { name: 'Use my camera' }).click();
        const alert = page.getByRole('alert');
        await alert.waitFor({ timeout: LOADED });
        expect(await alert.textContent()).toMatch(expected);
      }
      expect(webcams()).toHaveLength(0);
    } finally {
      await refusing.close();
      await noCamera.close();
    }
    expect(pageErrors).toEqual([]);
  });
});
