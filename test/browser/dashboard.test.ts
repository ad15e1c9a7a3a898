// The dashboard end to end in real Chromium: a server with enrolled people and a config-file camera playing a
// clip of them (real ffmpeg, real models), behind an API key entered in the page. The live grid and the large
// view name the people on the preview, the events timeline lists them (history and live, with face crops),
// cameras are added, disabled and removed through the cameras page, a camera's page draws and saves masks and
// its detection region, and the live view's motion overlay shows moving regions. Screenshots go to artifacts/.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../support/browser.ts';
import { makeTestClip } from '../support/clips.ts';
import { freePort } from '../support/rtspServer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { type Person, personImage } from '../support/testdata.ts';

const IN_CLIP: Person[] = ['penny', 'raj', 'amy', 'howard'];
// The clip shows each person's first photo; the facebank holds others of them.
const ENROLLED = IN_CLIP.flatMap((person) => [2, 3, 4].map((n) => ({ person, src: personImage(person, n) })));
const API_KEY = 'dashboard-test-key-0123';
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

/**
 * People who come and go: each face for 1.5 s, then 3 s of empty scene (longer than the tracker keeps a lost
 * track), so that each visit is its own track, as with a real doorway. Faces that replace each other in place
 * would be one track changing its name.
 */
async function makeVisitsClip(people: readonly Person[]): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'facerec-visits-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const empty = path.join(dir, 'empty.png');
    await sharp({ create: { width: 150, height: 150, channels: 3, background: '#808080' } })
      .png()
      .toFile(empty);
    const images = people.flatMap((person) => [personImage(person, 1), empty, empty]);
    return { path: await makeTestClip(images, path.join(dir, 'visits.mp4')), remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

interface CameraBody {
  id: string;
  name: string;
  url: string;
  enabled: boolean;
  origin: string;
}
interface CameraShapes {
  id: string;
  masks: { rect?: number[] }[];
  detectRegion: { rect?: number[] } | null;
}
interface EventBody {
  id: number;
  name: string;
}

describe('dashboard in Chromium (file camera, real models)', () => {
  let clip: { path: string; remove(): Promise<void> };
  let server: TestServer;
  let browser: Browser;
  let laptop: BrowserContext;
  let page: Page;
  let lobbyId = '';
  /** A webhook URL nothing listens on. */
  let deadHook = '';
  const pageErrors: string[] = [];

  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(server.url + path, { headers: { 'X-API-Key': API_KEY } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };

  const newContext = async (viewport: { width: number; height: number }, withKey: boolean) => {
    const context = await browser.newContext({ viewport });
    // The key as the page keeps it after the prompt (sessionStorage), for pages opened after the first.
    if (withKey)
      await context.addInitScript(
        `if (location.protocol === 'http:') sessionStorage.setItem('facerec.apiKey', ${JSON.stringify(API_KEY)})`,
      );
    context.on('page', (p) => p.on('pageerror', (err) => pageErrors.push(err.message)));
    return context;
  };

  /** Waits until an element matching `selector` carries an enrolled person's name in data-names; returns it. */
  const enrolledNameIn = async (p: Page, selector: string, timeout: number): Promise<string> => {
    const enrolled = new Set<string>(IN_CLIP);
    let found: string | undefined;
    await expect
      .poll(
        async () => {
          const lists = await p.locator(selector).evaluateAll((els) => els.map((el) => el.getAttribute('data-names')));
          found = lists.flatMap((names) => names?.split(',') ?? []).find((n) => enrolled.has(n));
          return found;
        },
        { timeout, interval: 100 },
      )
      .toBeDefined();
    return found ?? '';
  };

  /** No horizontal scrolling: everything fits the viewport's width. */
  // (A string: the test program has no DOM types.)
  const fitsWidth = (p: Page) => p.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth');

  beforeAll(async () => {
    deadHook = `http://127.0.0.1:${await freePort()}/facerec`;
    clip = await makeVisitsClip(IN_CLIP);
    server = await startTestServer({
      facebank: ENROLLED,
      config: {
        apiKey: API_KEY,
        cameras: [{ name: 'Lobby', url: clip.path, maxDetectFps: 8 }],
        // Nothing listens there: the cameras page shows the hook failing.
        webhooks: [{ url: deadHook }],
        webhookRetries: 0,
      },
      // Cameras failing on purpose warn: print errors only.
      printLevel: 'error',
    });
    lobbyId = (await get<CameraBody[]>('/api/cameras')).find((c) => c.name === 'Lobby')?.id ?? '';
    expect(lobbyId).not.toBe('');
    browser = await launchBrowser();
    laptop = await newContext(LAPTOP, false);
    page = await laptop.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await clip?.remove();
  });

  it('asks for the API key, then a live tile shows an enrolled person on the preview within 15 s', async () => {
    const opened = Date.now();
    await page.goto(`${server.url}/#/live`);
    const key = page.locator('input[name="apiKey"]');
    await key.waitFor({ timeout: 10_000 });
    await key.fill(API_KEY);
    await key.press('Enter');

    const tile = page.locator(`.tile[data-camera-id="${lobbyId}"]`);
    await tile.waitFor({ timeout: 10_000 });
    const name = await enrolledNameIn(page, `.tile[data-camera-id="${lobbyId}"] .face-names`, 15_000);
    const named = Date.now() - opened;
    // The same name is on the frame drawn on the canvas (data-names of the drawn frame's detections).
    await enrolledNameIn(page, `.tile[data-camera-id="${lobbyId}"] canvas`, 5000);
    expect(Number(await tile.locator('canvas').getAttribute('width'))).toBeGreaterThan(0);
    await expect.poll(() => tile.locator('.badge').textContent(), { timeout: 5000 }).toBe('live');
    await expect.poll(() => tile.locator('.stats').textContent(), { timeout: 5000 }).toMatch(/analysed[1-9]/);
    expect(await fitsWidth(page)).toBe(true);
    console.log(`live tile: "${name}" shown ${named} ms after opening the page (key prompt included)`);
    await screenshot(page, 'dashboard-live');
  });

  it('a click on the tile opens the large view, which names people too and links back', async () => {
    await page.locator(`.tile[data-camera-id="${lobbyId}"] .tile-view`).click();
    await page.waitForURL(`**/#/live/${lobbyId}`, { timeout: 5000 });
    const large = page.locator(`.large[data-camera-id="${lobbyId}"]`);
    await large.waitFor({ timeout: 5000 });
    await enrolledNameIn(page, '.large .face-names', 15_000);
    const canvas = await large.locator('canvas').boundingBox();
    expect(canvas?.width ?? 0).toBeGreaterThan(LAPTOP.width / 2);
    expect(await fitsWidth(page)).toBe(true);
    await screenshot(page, 'dashboard-large');
    await page.locator('a.back').click();
    await page.locator('.tiles').waitFor({ timeout: 5000 });
  });

  it('the events timeline lists enrolled people with their crops, gains live entries, and filters by name', async () => {
    await page.goto(`${server.url}/#/events`);
    const first = page.locator('.events .event').first();
    await first.waitFor({ timeout: 20_000 });
    const enrolled = page.locator(IN_CLIP.map((n) => `.event[data-name="${n}"]`).join(', ')).first();
    await enrolled.waitFor({ timeout: 20_000 });
    const name = await enrolled.getAttribute('data-name');
    // The crop was fetched with the key and shown.
    const crop = enrolled.locator('img.crop');
    await expect.poll(() => crop.getAttribute('data-state'), { timeout: 10_000 }).toBe('loaded');
    expect(await crop.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    await expect(enrolled.textContent()).resolves.toContain('Lobby');

    // A live entry: newer than every entry the page had, without reloading.
    const shown = (attribute: string) =>
      page.locator('.events .event').evaluateAll((els, a) => els.map((el) => el.getAttribute(a) ?? ''), attribute);
    const shownIds = async () => (await shown('data-event-id')).map(Number);
    const before = Math.max(...(await shownIds()));
    await expect
      .poll(async () => Math.max(...(await shownIds())), { timeout: 20_000, interval: 250 })
      .toBeGreaterThan(before);
    // Visits end too: a person_left entry arrives once the tracker's cooldown after the face went has passed.
    await page.locator('.events .event.left').first().waitFor({ timeout: 25_000 });
    const ids = await shownIds();
    const times = await page
      .locator('.events .event time')
      .evaluateAll((els) => els.map((el) => Date.parse(el.getAttribute('datetime') ?? '')));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // History and live together miss nothing: every stored event up to the newest shown is shown.
    const stored = (await get<EventBody[]>('/api/events?limit=1000')).map((e) => e.id);
    const newest = Math.max(...ids);
    expect(new Set(ids)).toEqual(new Set(stored.filter((id) => id <= newest)));
    await screenshot(page, 'dashboard-events');

    await page.locator('select[name="name"]').selectOption(name ?? '');
    await expect.poll(async () => [...new Set(await shown('data-name'))], { timeout: 10_000 }).toEqual([name]);
    expect(await fitsWidth(page)).toBe(true);
  });

  it('the cameras page adds, disables and removes a camera (the API agrees) and shows errors', async () => {
    await page.goto(`${server.url}/#/cameras`);
    const lobby = page.locator(`.camera-row[data-camera-id="${lobbyId}"]`);
    await lobby.waitFor({ timeout: 10_000 });
    // Config-file cameras are read-only.
    await expect(lobby.textContent()).resolves.toContain('read-only');
    expect(await lobby.locator('button').count()).toBe(0);

    const form = page.locator('form.add-camera');
    await form.locator('input[name="name"]').fill('Bad');
    await form.locator('input[name="url"]').fill('ftp://example.com/stream');
    await form.locator('button[type="submit"]').click();
    await expect
      .poll(() => form.locator('.error').textContent(), { timeout: 5000 })
      .toContain('unsupported URL scheme');

    // Nothing listens on this port: the camera keeps retrying and shows why.
    const port = await freePort();
    await form.locator('input[name="name"]').fill('Parking');
    await form.locator('input[name="url"]').fill(`rtsp://user:s3cret@127.0.0.1:${port}/stream`);
    await form.locator('input[name="maxDetectFps"]').fill('2');
    await form.locator('button[type="submit"]').click();
    const row = page.locator('.camera-row[data-camera-name="Parking"]');
    await row.waitFor({ timeout: 10_000 });
    const added = (await get<CameraBody[]>('/api/cameras')).find((c) => c.name === 'Parking');
    expect(added).toMatchObject({ enabled: true, origin: 'api' });
    expect(await form.locator('.error').count()).toBe(0);
    await expect.poll(() => row.locator('.last-error').count(), { timeout: 15_000 }).toBe(1);
    expect(await page.content()).not.toContain('s3cret');
    expect(await fitsWidth(page)).toBe(true);
    await screenshot(page, 'dashboard-cameras');

    await row.getByRole('button', { name: 'Disable' }).click();
    await expect
      .poll(async () => (await get<CameraBody[]>('/api/cameras')).find((c) => c.name === 'Parking')?.enabled, {
        timeout: 5000,
      })
      .toBe(false);
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 5000 }).toBe('disabled');

    await row.getByRole('button', { name: 'Remove' }).click();
    await row.getByRole('button', { name: 'Yes, remove' }).click();
    await row.waitFor({ state: 'detached', timeout: 5000 });
    expect((await get<CameraBody[]>('/api/cameras')).map((c) => c.name)).toEqual(['Lobby']);

    // The integrations' state below the cameras: MQTT off, the dead webhook's failures.
    const panel = page.locator('.integrations');
    await expect(panel.locator('.integration-mqtt').textContent()).resolves.toContain('off (set MQTT_URL)');
    const hook = panel.locator(`.webhook[data-url="${deadHook}"]`);
    await expect.poll(() => hook.textContent(), { timeout: 30_000 }).toMatch(/[1-9]\d* failed.*ECONNREFUSED/u);
    // One node: no nodes list, no owner on the cameras (the health check that drew the integrations says so).
    expect(await page.locator('.cluster, .camera-owner').count()).toBe(0);
  });

  it('a camera page draws a mask and the detection region on the picture and saves them; the live view shows motion', async () => {
    const started = Date.now();
    const res = await fetch(`${server.url}/api/cameras`, {
      method: 'POST',
      headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Hall', url: clip.path, maxDetectFps: 2 }),
    });
    expect(res.status).toBe(201);
    const hall = (await res.json()) as CameraBody;
    const stored = async () => (await get<CameraShapes[]>('/api/cameras')).find((c) => c.id === hall.id);

    await page.goto(`${server.url}/#/cameras`);
    await page.locator(`.camera-row[data-camera-id="${hall.id}"] a.camera-settings`).click();
    const view = page.locator(`.camera-page[data-camera-id="${hall.id}"]`);
    // The shapes are laid over the picture once its first frame is drawn.
    await view.locator('svg.shape-overlay').waitFor({ timeout: 15_000 });
    const canvas = view.locator('canvas');
    /** Drags over the picture from one point to another, given as shares of the frame (0..1). */
    const drag = async (from: [number, number], to: [number, number]) => {
      const box = await canvas.boundingBox();
      const [w, h] = await canvas.evaluate((c) => [
        (c as unknown as { width: number }).width,
        (c as unknown as { height: number }).height,
      ]);
      if (!box || !w || !h) throw new Error('no picture');
      // The picture is fitted into the element (object-fit: contain), centred.
      const fit = Math.min(box.width / w, box.height / h);
      const [left, top] = [box.x + (box.width - w * fit) / 2, box.y + (box.height - h * fit) / 2];
      const at = ([x, y]: [number, number]) => [left + x * w * fit, top + y * h * fit] as const;
      await page.mouse.move(...at(from));
      await page.mouse.down();
      await page.mouse.move(...at(to));
      await page.mouse.up();
    };
    const near = (actual: number[] | undefined, expected: number[]) => {
      expect(actual).toHaveLength(expected.length);
      for (const [i, v] of expected.entries()) expect(Math.abs((actual?.[i] ?? -1) - v)).toBeLessThan(0.01);
    };

    await view.getByRole('button', { name: 'Draw a mask' }).click();
    await drag([0.1, 0.1], [0.4, 0.3]);
    await view.getByRole('button', { name: 'Set the detection region' }).click();
    await drag([0.05, 0.05], [0.95, 0.9]);
    await expect.poll(() => view.locator('.mask-item').count()).toBe(1);
    expect(await view.locator('svg .mask').count()).toBe(1);
    await view.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await stored())?.masks.length, { timeout: 5000 }).toBe(1);
    const saved = await stored();
    near(saved?.masks[0]?.rect, [0.1, 0.1, 0.4, 0.3]);
    near(saved?.detectRegion?.rect, [0.05, 0.05, 0.95, 0.9]);
    await screenshot(page, 'dashboard-camera-masks');

    // Deleted and cleared, saved again: the server has none.
    await view.locator('.mask-item').getByRole('button', { name: 'delete' }).click();
    await view.locator('.detect-region').getByRole('button', { name: 'clear' }).click();
    await view.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await stored())?.masks.length, { timeout: 5000 }).toBe(0);
    expect((await stored())?.detectRegion).toBeNull();

    // The motion overlay in the live view: the frames' moving regions (people coming and going) on the picture.
    await page.goto(`${server.url}/#/live/${hall.id}`);
    const live = page.locator(`.large[data-camera-id="${hall.id}"] canvas`);
    await live.and(page.locator('[data-seq]')).waitFor({ timeout: 15_000 });
    expect(await live.getAttribute('data-motion')).toBeNull();
    await page.locator('input[name="motionOverlay"]').check();
    await expect
      .poll(async () => Number(await live.getAttribute('data-motion')), { timeout: 15_000, interval: 100 })
      .toBeGreaterThan(0);

    await fetch(`${server.url}/api/cameras/${hall.id}`, { method: 'DELETE', headers: { 'X-API-Key': API_KEY } });
    console.log(`camera page and motion overlay: ${Date.now() - started} ms`);
  });

  it('fits a phone: live tile with names, events and cameras in one column', async () => {
    const phone = await newContext(PHONE, true);
    const p = await phone.newPage();
    await p.goto(`${server.url}/#/live`);
    await enrolledNameIn(p, '.tile .face-names', 15_000);
    expect(await fitsWidth(p)).toBe(true);
    const tile = await p.locator('.tile').boundingBox();
    expect(tile?.width ?? 0).toBeLessThanOrEqual(PHONE.width);
    await screenshot(p, 'dashboard-phone');

    await p.goto(`${server.url}/#/live/no-such-camera`);
    await expect.poll(() => p.locator('main').textContent(), { timeout: 5000 }).toContain('No camera with id');

    await p.goto(`${server.url}/#/events`);
    await p.locator('.events .event img.crop[data-state="loaded"]').first().waitFor({ timeout: 10_000 });
    expect(await fitsWidth(p)).toBe(true);
    await screenshot(p, 'dashboard-phone-events');

    await p.goto(`${server.url}/#/cameras`);
    await p.locator('.camera-row').first().waitFor({ timeout: 10_000 });
    expect(await fitsWidth(p)).toBe(true);
    await screenshot(p, 'dashboard-phone-cameras');
    await phone.close();
    expect(pageErrors).toEqual([]);
  });
});
