// "Not this person" and the grouped unknown-faces gallery in real Chromium, against a real server (real models).
// A stranger named as somebody (a low explicit MATCH_THRESHOLD makes the mistake) is rejected from the events page
// and undone there and from the facebank page; the unknown-faces page shows two strangers' repeated visits as two
// cards, and "Enrol as…" on one adds its crops in one click. Events are stored in the server's own events store
// with a JPEG crop, as the camera pipeline stores them; a file camera shows "Not <name>" next to a live name. Screenshots go to artifacts/.
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../support/browser.ts';
import { makePeopleClip } from '../support/clips.ts';
import { storePhotoEvent } from '../support/events.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { type Person, personImage } from '../support/testdata.ts';

const ENROLLED: Person[] = ['amy', 'howard', 'leonard', 'penny', 'raj', 'sheldon'];

describe('"not this person" and grouped unknown faces in Chromium (real models)', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const call = async <T>(method: string, path: string, json?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(server.url + path, {
      method,
      ...(json === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  };
  const nameOf = async (person: Person, n: number) => {
    const file = readFileSync(personImage(person, n)).toString('base64');
    const r = await call<{ faces: { name: string }[] }>('POST', '/api/recognize', { file });
    return r.body.faces[0]?.name;
  };
  const storeEvent = (person: Person, n: number, name: string) =>
    storePhotoEvent(server, { person, n }, { name, score: 0.3 });

  beforeAll(async () => {
    server = await startTestServer({
      config: { matchThreshold: 0.15 },
      facebank: ENROLLED.flatMap((person) => [1, 2].map((n) => ({ person, src: personImage(person, n) }))),
    });
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1366, height: 768 } })).newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('rejects a name on the events page, undoes it there and from the facebank page', async () => {
    const wrong = await nameOf('bernadette', 1);
    expect(ENROLLED).toContain(wrong);
    const id = await storeEvent('bernadette', 1, wrong!);
    const negatives = async () => (await call<{ id: number }[]>('GET', `/api/people/${wrong}/negatives`)).body;

    await page.goto(`${server.url}/#/events`);
    const card = page.locator(`.event[data-event-id="${id}"]`);
    await card.getByRole('button', { name: `Not ${wrong}` }).click();
    await card.getByRole('button', { name: 'Undo' }).waitFor({ timeout: 10_000 });
    expect(await negatives()).toHaveLength(1);
    expect(await nameOf('bernadette', 1)).not.toBe(wrong);
    await screenshot(page, 'events-not-this-person');
    await card.getByRole('button', { name: 'Undo' }).click();
    await card.getByRole('button', { name: `Not ${wrong}` }).waitFor({ timeout: 10_000 });
    expect(await negatives()).toEqual([]);
    expect(await nameOf('bernadette', 1)).toBe(wrong);

    // Rejected again; undone from the person's card on the facebank page.
    await card.getByRole('button', { name: `Not ${wrong}` }).click();
    await card.getByRole('button', { name: 'Undo' }).waitFor({ timeout: 10_000 });
    const [negative] = await negatives();
    await page.goto(`${server.url}/#/facebank`);
    const listed = page.locator(`.person-card[data-person="${wrong}"] [data-negative="${negative!.id}"]`);
    await listed.waitFor({ timeout: 10_000 });
    await expect.poll(() => listed.locator('img').getAttribute('data-state'), { timeout: 10_000 }).toBe('loaded');
    await listed.getByRole('button', { name: 'Undo' }).click();
    await listed.waitFor({ state: 'detached', timeout: 10_000 });
    expect(await negatives()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('shows repeated visits of two strangers as two cards and enrols one card in one click', async () => {
    const stuart: number[] = [];
    for (const n of [3, 4, 5]) {
      stuart.push(await storeEvent('stuart', n, 'Unknown'));
      await storeEvent('bernadette', n, 'Unknown');
    }
    await page.goto(`${server.url}/#/unknown`);
    const cards = page.locator('.unknown-card');
    await expect.poll(() => cards.count(), { timeout: 30_000 }).toBe(2);
    expect(await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-count')))).toEqual(['3', '3']);

    // Stuart's card (a card's id is its oldest visit): enrolled, he is no stranger to the live test below.
    const card = page.locator(`.unknown-card[data-cluster="${Math.min(...stuart)}"]`);
    await card.getByRole('button', { name: 'Show all 3' }).click();
    await expect.poll(() => card.locator('.unknown-others img').count()).toBe(2);
    await screenshot(page, 'unknown-grouped');
    await card.getByRole('button', { name: 'Enrol as…' }).click();
    await card.getByLabel('Enrol as').fill('visitor');
    await card.getByRole('button', { name: 'Enrol' }).click();
    await card.locator('.unknown-enrolled').waitFor({ timeout: 30_000 });
    const visitor = await call<{ images: { file: string }[] }>('GET', '/api/people/visitor');
    expect(visitor.body.images).toHaveLength(3);
    expect(await nameOf('stuart', 1)).toBe('visitor');
    expect(pageErrors).toEqual([]);
  });

  it('offers "Not <name>" next to a live name in a camera\'s large view', async () => {
    const clip = await makePeopleClip(['bernadette']);
    try {
      const added = await call<{ id: string }>('POST', '/api/cameras', { name: 'lobby', url: clip.path });
      expect(added.status).toBe(201);
      await page.goto(`${server.url}/#/live/${added.body.id}`);
      const named = page.locator('.live-named li').first();
      await named.waitFor({ timeout: 60_000 });
      const wrong = await named.getAttribute('data-name');
      expect(ENROLLED).toContain(wrong);
      await named.getByRole('button', { name: `Not ${wrong}` }).click();
      await expect
        .poll(async () => (await call<unknown[]>('GET', `/api/people/${wrong}/negatives`)).body.length, {
          timeout: 10_000,
        })
        .toBe(1);
      await screenshot(page, 'live-not-this-person');
      expect((await call('DELETE', `/api/cameras/${added.body.id}`)).status).toBe(204);
      const [negative] = (await call<{ id: number }[]>('GET', `/api/people/${wrong}/negatives`)).body;
      expect((await call('DELETE', `/api/people/${wrong}/negatives/${negative!.id}`)).status).toBe(204);
      expect(pageErrors).toEqual([]);
    } finally {
      await clip.remove();
    }
  });
});
