// The facebank and unknown-faces pages end to end in real Chromium, against a real server (real models, real
// ffmpeg) behind an API key: a person enrolled through the page (file picker and drag and drop) is then named by
// /rec; a picture with no face and a group photo show their statuses; and unknown faces seen by two file cameras
// appear in the gallery live and are enrolled from there (one as a new person, one into an existing one), after
// which /rec names other photos of them. Screenshots go to artifacts/.
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../support/browser.ts';
import { makePeopleClip, type TempClip } from '../support/clips.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { personImage, SCENES } from '../support/testdata.ts';

const API_KEY = 'facebank-test-key-0123';
const SEEDED = (['amy', 'howard'] as const).flatMap((person) =>
  [1, 2].map((n) => ({ person, src: personImage(person, n) })),
);
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

interface RecBody {
  names: string[] | null;
}
interface PersonBody {
  name: string;
  images: Array<{ file: string; status: string }>;
}

describe('facebank and unknown faces in Chromium (real models)', () => {
  let stuartClip: TempClip;
  let bernadetteClip: TempClip;
  let server: TestServer;
  let browser: Browser;
  let laptop: BrowserContext;
  let phone: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  const request = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(server.url + path, {
      method,
      headers: { 'X-API-Key': API_KEY, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const recognise = async (photo: string) => {
    const r = await request<RecBody>('POST', '/rec', { file: readFileSync(photo).toString('base64') });
    expect(r.status).toBe(200);
    return r.body.names?.[0];
  };

  const newContext = async (viewport: { width: number; height: number }) => {
    const context = await browser.newContext({ viewport });
    // The key as the page keeps it once entered (sessionStorage): every request and image below needs it.
    // (about:blank, where a new page starts, has no storage.)
    await context.addInitScript(
      `if (location.protocol === 'http:') sessionStorage.setItem('facerec.apiKey', ${JSON.stringify(API_KEY)})`,
    );
    context.on('page', (p) => {
      p.on('pageerror', (err) => pageErrors.push(err.message));
      // Removing an image or a person asks first.
      p.on('dialog', (dialog) => void dialog.accept());
    });
    return context;
  };
  // (Strings: the test program has no DOM types.)
  const fitsWidth = (p: Page) => p.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth');
  /** Every image in `scope` decoded (an <img> still waiting for its blob URL has no src, hence no width). */
  const imagesLoaded = (scope: Locator) =>
    scope.locator('img').evaluateAll((imgs) =>
      imgs.every((img) => {
        const { complete, naturalWidth } = img as unknown as { complete: boolean; naturalWidth: number };
        return complete && naturalWidth > 0;
      }),
    );
  const tile = (card: Locator, file: string) => card.locator(`.person-image[data-file="${file}"]`);

  beforeAll(async () => {
    stuartClip = await makePeopleClip(['stuart']);
    bernadetteClip = await makePeopleClip(['bernadette']);
    server = await startTestServer({ facebank: SEEDED, config: { apiKey: API_KEY } });
    browser = await launchBrowser();
    laptop = await newContext(LAPTOP);
    phone = await newContext(PHONE);
    page = await laptop.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await stuartClip?.remove();
    await bernadetteClip?.remove();
  });

  it('enrols a person through the page (file picker, drag and drop); /rec then names them; statuses show', async () => {
    await page.goto(`${server.url}/#/facebank`);
    await expect.poll(() => page.locator('.person-card').count(), { timeout: 10_000 }).toBe(2);
    expect(await page.locator('.person-card h2').allTextContents()).toEqual(['amy', 'howard']);
    expect(await recognise(personImage('leonard', 5))).toBe('Unknown');

    await page.getByLabel("New person's name").fill('leonard');
    await page.getByRole('button', { name: 'Add person' }).click();
    const card = page.locator('.person-card[data-person="leonard"]');
    await card.locator('.drop-hint').waitFor({ timeout: 10_000 });

    // The file picker: three photos, each analysing until the server answers, then embedded.
    const photos = [1, 2, 3].map((n) => personImage('leonard', n));
    await card.locator('input[type=file]').setInputFiles(photos);
    for (const n of [1, 2, 3]) {
      await tile(card, `leonard${n}.png`).and(page.locator('[data-status="embedded"]')).waitFor({ timeout: 30_000 });
    }
    expect(await card.locator('.person-image.upload').count()).toBe(0);

    // Drag and drop: a real drop event carrying a file.
    const png = readFileSync(personImage('leonard', 4)).toString('base64');
    const dataTransfer = await page.evaluateHandle(`(() => {
      const bytes = Uint8Array.from(atob('${png}'), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
      return dt;
    })()`);
    await card.dispatchEvent('dragenter', { dataTransfer });
    await card.locator('.drop-overlay').waitFor({ timeout: 5000 });
    await card.dispatchEvent('drop', { dataTransfer });
    await tile(card, 'dropped.png').and(page.locator('[data-status="embedded"]')).waitFor({ timeout: 30_000 });
    expect(await card.locator('.drop-overlay').count()).toBe(0);

    const stored = await request<PersonBody>('GET', '/api/people/leonard');
    expect(stored.body.images.map((i) => [i.file, i.status])).toEqual([
      ['dropped.png', 'embedded'],
      ['leonard1.png', 'embedded'],
      ['leonard2.png', 'embedded'],
      ['leonard3.png', 'embedded'],
    ]);
    expect(await recognise(personImage('leonard', 5))).toBe('leonard');
    // The page says which threshold is in force, for the facebank as it is now (3 people).
    const line = page.locator('.operating-point');
    await expect.poll(() => line.textContent(), { timeout: 10_000 }).toContain('with 3 people enrolled');
    const health = await request<{ operatingPoint: { threshold: number } }>('GET', '/api/health');
    expect(await line.textContent()).toContain(health.body.operatingPoint.threshold.toFixed(3));

    // A picture with no face is kept as a crop and says so; a group photo is refused with the server's reason.
    const noFace = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#3a7bd5' } })
      .composite([
        {
          input: Buffer.from(
            '<svg width="320" height="240"><rect x="40" y="60" width="240" height="120" fill="#e8c547"/></svg>',
          ),
        },
      ])
      .png()
      .toBuffer();
    await card.locator('input[type=file]').setInputFiles([
      { name: 'sunset.png', mimeType: 'image/png', buffer: noFace },
      { name: 'group.jpg', mimeType: 'image/jpeg', buffer: readFileSync(SCENES[0]!) },
    ]);
    const sunset = tile(card, 'sunset.png').and(page.locator('[data-status="crop_fallback"]'));
    await sunset.waitFor({ timeout: 30_000 });
    expect(await sunset.locator('.badge').textContent()).toBe('no face');
    const group = tile(card, 'group.jpg');
    await group.and(page.locator('[data-status="several_faces"]')).waitFor({ timeout: 30_000 });
    expect(await group.locator('.badge').textContent()).toBe('several faces');
    expect(await group.locator('.person-image-hint').textContent()).toBe(
      'Not added: 4 faces of similar size and none is clearly the subject (they are small in the picture, as in a group photo); crop the image to one person',
    );
    expect((await request<PersonBody>('GET', '/api/people/leonard')).body.images.map((i) => i.file)).not.toContain(
      'group.jpg',
    );

    await expect.poll(() => imagesLoaded(page.locator('.person-list')), { timeout: 10_000 }).toBe(true);
    expect(await fitsWidth(page)).toBe(true);
    await page.evaluate('window.scrollTo(0, 0)');
    await screenshot(page, 'facebank');

    const small = await phone.newPage();
    await small.goto(`${server.url}/#/facebank`);
    await small.locator('.person-card[data-person="leonard"] [data-file="sunset.png"]').waitFor({ timeout: 10_000 });
    await expect.poll(() => imagesLoaded(small.locator('.person-list')), { timeout: 10_000 }).toBe(true);
    expect(await fitsWidth(small)).toBe(true);
    await screenshot(small, 'facebank-phone');
    await small.close();

    // Removing: the refused upload is dismissed, the no-face image removed, then a whole person.
    await group.getByRole('button', { name: 'Dismiss group.jpg' }).click();
    await tile(card, 'sunset.png').getByRole('button', { name: 'Remove sunset.png' }).click();
    await expect.poll(() => card.locator('.person-image').count(), { timeout: 10_000 }).toBe(4);
    expect((await request<PersonBody>('GET', '/api/people/leonard')).body.images).toHaveLength(4);
    await page.locator('.person-card[data-person="howard"]').getByRole('button', { name: 'Delete' }).click();
    await expect
      .poll(() => page.locator('.person-card h2').allTextContents(), { timeout: 10_000 })
      .toEqual(['amy', 'leonard']);
    expect((await request('GET', '/api/people/howard')).status).toBe(404);

    // The API's own messages reach the page.
    await page.getByLabel("New person's name").fill('amy');
    await page.getByRole('button', { name: 'Add person' }).click();
    expect(await page.locator('.person-add-error').textContent({ timeout: 5000 })).toContain('exists');
    expect(pageErrors).toEqual([]);
  });

  it('shows unknown faces from cameras live; "Enrol as…" adds one to a new and one to an existing person', async () => {
    expect(await recognise(personImage('stuart', 2))).toBe('Unknown');
    expect(await recognise(personImage('bernadette', 2))).toBe('Unknown');
    // An existing person with no photo yet: the lobby's visitor is added to her.
    expect((await request('POST', '/api/people', { name: 'bernadette' })).status).toBe(201);
    await page.goto(`${server.url}/#/unknown`);
    await page.locator('.unknown .panel.muted').waitFor({ timeout: 10_000 }); // nobody yet

    // Cameras added after the page loaded: entries can only arrive live, over the socket.
    const started = Date.now();
    const cameras: string[] = [];
    for (const [name, clip] of [
      ['Front door', stuartClip],
      ['Lobby', bernadetteClip],
    ] as const) {
      const added = await request<{ id: string }>('POST', '/api/cameras', { name, url: clip.path });
      expect(added.status).toBe(201);
      cameras.push(added.body.id);
    }
    const door = page.locator('.unknown-card', { hasText: 'Front door' }).first();
    const lobby = page.locator('.unknown-card', { hasText: 'Lobby' }).first();
    await door.waitFor({ timeout: 45_000 });
    await lobby.waitFor({ timeout: 45_000 });
    const seenAfter = Date.now() - started;
    for (const card of [door, lobby]) {
      await expect.poll(() => card.locator('img').getAttribute('data-state'), { timeout: 10_000 }).toBe('loaded');
    }

    await door.getByRole('button', { name: 'Enrol as…' }).click();
    await door.getByLabel('Enrol as').fill('stuart');
    expect(await door.locator('.unknown-enrol-hint').textContent()).toBe('creates stuart');
    await door.getByRole('button', { name: 'Enrol' }).click();
    await door.locator('.unknown-enrolled').waitFor({ timeout: 30_000 });
    expect(await door.locator('.unknown-enrolled a').textContent()).toBe('stuart');
    expect(await door.locator('.unknown-enrolled .badge').getAttribute('data-status')).toBe('embedded');

    await lobby.getByRole('button', { name: 'Enrol as…' }).click();
    await lobby.getByLabel('Enrol as').fill('bernadette');
    expect(await lobby.locator('.unknown-enrol-hint').textContent()).toBe('adds a photo to bernadette');
    await page.evaluate('window.scrollTo(0, 0)');
    await screenshot(page, 'unknown');
    await lobby.getByRole('button', { name: 'Enrol' }).click();
    await lobby.locator('.unknown-enrolled').waitFor({ timeout: 30_000 });
    expect(await lobby.locator('.unknown-enrolled .badge').getAttribute('data-status')).toBe('embedded');

    for (const person of ['stuart', 'bernadette']) {
      const stored = await request<PersonBody>('GET', `/api/people/${person}`);
      expect(stored.status).toBe(200);
      // One card per person: "Enrol" adds the best few of its visits' crops (however many visits the loop made).
      expect(stored.body.images.length).toBeGreaterThanOrEqual(1);
      for (const image of stored.body.images) {
        expect(image).toMatchObject({ status: 'embedded', file: expect.stringMatching(/^event-\d+-\d+\.jpg$/) });
      }
    }
    const named = await Promise.all(
      (['stuart', 'bernadette'] as const).flatMap((person) => [2, 3, 4].map((n) => recognise(personImage(person, n)))),
    );
    expect(named).toEqual(['stuart', 'stuart', 'stuart', 'bernadette', 'bernadette', 'bernadette']);

    // The facebank remembers which visit was enrolled: a fresh page still says so.
    const small = await phone.newPage();
    await small.goto(`${server.url}/#/unknown`);
    const again = small.locator(`.unknown-card[data-cluster="${await door.getAttribute('data-cluster')}"]`);
    await again.locator('.unknown-enrolled').waitFor({ timeout: 10_000 });
    await expect.poll(() => imagesLoaded(small.locator('.unknown-gallery')), { timeout: 10_000 }).toBe(true);
    expect(await fitsWidth(small)).toBe(true);
    await screenshot(small, 'unknown-phone');
    await small.close();

    for (const id of cameras) expect((await request('DELETE', `/api/cameras/${id}`)).status).toBe(204);
    expect(pageErrors).toEqual([]);
    console.log(`unknown faces in the gallery ${seenAfter} ms after the cameras were added`);
  });
});
