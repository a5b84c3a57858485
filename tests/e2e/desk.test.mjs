// tests/e2e/desk.test.mjs -- the agent desk in headless chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; no browser is downloaded).
// Run by tests/integration/desk_e2e_pg.sh, which starts atumd and makes
// the tickets (tests/e2e/setup.sh) and passes them in DESK_* variables.
// Every wait is for a condition, bounded by playwright's timeouts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { env, launchBrowser, axeFindings, totp, totpStep, until, watchedPage } from './harness.mjs';

const URL_ = env('DESK_URL');
const ORIGIN = new URL(URL_).origin;
const PW = env('DESK_PW');
const SHOTS = env('DESK_SCREENSHOTS');
const TICKET = Number(env('DESK_TICKET'));
const HOSTILE = Number(env('DESK_HOSTILE'));
const FOREIGN = Number(env('DESK_FOREIGN'));
const TRIAGE_QUEUE = Number(env('DESK_TRIAGE_QUEUE'));
const AGENT_ID = Number(env('DESK_AGENT_ID'));
const EVIL = env('DESK_EVIL_URL');

let browser;
const problems = [];          // uncaught errors in the desk's own script, on any page
const watched = (context) => watchedPage(context, ORIGIN, problems, { dialogs: true });

before(async () => {
    browser = await launchBrowser();
});

after(async () => {
    if (browser)
        await browser.close();
});

async function signIn(page, email, password = PW) {
    await page.goto(`${URL_}/desk`);
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
}

// After "Sign out": the sign-in form of the signed-out page (not a form
// still being replaced), then the password step; its answer is the code
// step, or an error whose words the failure shows.
async function signInAfterSignOut(p, email) {
    await p.getByText('You are signed out.').waitFor();
    await p.locator('#email').fill(email);
    await p.locator('#password').fill(PW);
    await p.getByRole('button', { name: 'Sign in' }).click();
    const error = p.locator('#signin-error');
    await Promise.race([p.locator('#code').waitFor(), error.waitFor()]);
    if (await error.count())
        assert.fail(`signing in again: ${await error.textContent()}`);
}

async function api(page, p) {
    return page.evaluate(async (u) => (await fetch(u, { credentials: 'same-origin' })).json(), `/api/v1${p}`);
}

const step = () => totpStep();

describe('desk', () => {
    let agent;        // the signed-in agent's context
    let page;

    test('a wrong password gets a readable message next to the form', async () => {
        agent = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        page = await watched(agent);
        await signIn(page, 'agent@example.com', 'not the password');
        const alert = page.locator('#signin-error');
        await alert.waitFor();
        assert.match(await alert.textContent(), /^Wrong e-mail address or password\.$/);
        assert.equal(await page.locator('#password').getAttribute('aria-invalid'), null);
        assert.ok(!(await page.content()).includes('{"title"'), 'no raw problem document on the page');
    });

    test('an agent signs in and the inbox shows the ticket injected by mail', async () => {
        await page.locator('#password').fill(PW);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.locator('table.tickets[data-loaded="true"]').waitFor();
        await page.locator(`a[data-id="${TICKET}"]`, { hasText: 'My printer is on fire' }).waitFor();
        assert.equal(await page.locator('.views a[aria-current="page"] .view-label').textContent(), 'All tickets');
        await page.screenshot({ path: path.join(SHOTS, 'inbox.png') });
    });

    test('the ticket shows its thread with the quote folded, and takes a reply and a note', async () => {
        await page.locator(`a[data-id="${TICKET}"]`).click();
        await page.waitForURL(`**/desk/tickets/${TICKET}`);
        const h1 = page.locator('#ticket-title');
        await h1.waitFor();
        assert.match(await h1.textContent(), /My printer is on fire/);
        assert.equal(await page.evaluate(() => document.activeElement.id), 'ticket-title');
        const customer = page.locator('.msg-customer');
        assert.equal(await customer.count(), 2);
        const second = customer.nth(1);
        assert.match(await second.locator('.text').textContent(), /It stopped smoking/);
        assert.ok(!(await second.textContent()).includes('smokes since this morning'), 'the quote is folded');
        await second.getByRole('button', { name: 'Show the quoted history' }).click();
        await second.getByText('> the printer in room 4 smokes since this morning.').waitFor();

        await page.keyboard.press('r');
        const reply = page.locator('#compose-reply');
        await reply.waitFor();
        assert.equal(await page.evaluate(() => document.activeElement.id), 'compose-reply');
        await page.keyboard.type('We sent a technician.');
        await page.keyboard.press('Control+Enter');
        const sent = page.locator('.msg-agent', { hasText: 'We sent a technician.' });
        await sent.waitFor();
        assert.match(await sent.locator('.kind').textContent(), /Reply to the customer/);
        assert.match(await sent.locator('.delivery').textContent(), /Mail: (being prepared for sending|Waiting to be sent|Being sent|Sent)/);

        await page.keyboard.press('n');
        await page.locator('#compose-note').waitFor();
        await page.keyboard.type('Technician booked for 14:00.');
        await page.keyboard.press('Control+Enter');
        const note = page.locator('.msg-note', { hasText: 'Technician booked' });
        await note.waitFor();
        assert.match(await note.locator('.kind').textContent(), /Internal note/);
        assert.equal(await page.evaluate(() => document.activeElement.classList.contains('msg-note')), true,
                     'the focus is on the new note');
        // k/j walk the messages; ? and Escape leave the ticket open
        await page.keyboard.press('k');
        await page.waitForFunction(() => document.activeElement.classList.contains('msg-agent'));
        await page.keyboard.press('j');
        await page.waitForFunction(() => document.activeElement.classList.contains('msg-note'));
        await page.keyboard.press('?');
        await page.locator('dialog.help').waitFor();
        await page.keyboard.press('Escape');
        await page.locator('dialog.help').waitFor({ state: 'hidden' });
        assert.ok(page.url().endsWith(`/desk/tickets/${TICKET}`), 'Escape closed the dialog only');
        await page.screenshot({ path: path.join(SHOTS, 'ticket.png'), fullPage: true });
    });

    test('hostile mail renders inert: no dialog, no request to another origin', async () => {
        const p = await watched(agent);
        await p.goto(`${URL_}/desk/tickets/${HOSTILE}`);
        const h1 = p.locator('#ticket-title');
        await h1.waitFor();
        // the subject is shown as the text it is
        assert.match(await h1.textContent(), /<img src=x onerror=alert\('subject'\)><script>/);
        const frameEl = p.locator('iframe.mail');
        await frameEl.waitFor();
        assert.equal(await frameEl.getAttribute('sandbox'), 'allow-popups allow-popups-to-escape-sandbox');
        const frame = await (await frameEl.elementHandle()).contentFrame();
        await frame.waitForLoadState('load');
        await frame.getByText('marker HOSTILE-HTML').waitFor();
        // the inline (cid:) image is there, as a data: URL
        const logo = frame.locator('img[alt="inline logo"]');
        assert.match(await logo.getAttribute('src'), /^data:image\/png;base64,/);
        assert.ok(await logo.evaluate((i) => i.complete && i.naturalWidth === 1), 'the inline image loaded');
        // nothing of the mail can run in the frame or reach the desk (the
        // one style element is the frame document's own, in its head)
        assert.equal(await frame.locator('script, iframe, object, embed, form, link, base, body style').count(), 0);
        // the sender's name and the attachment's name, as text
        assert.ok((await p.locator('.msg .from').first().textContent()).includes('hostile@evil.example'));
        const file = p.locator('.files a');
        assert.equal(await file.textContent(), "<img src=x onerror=alert('file')>.txt");
        assert.match(await file.getAttribute('href'), /^\/api\/v1\/attachments\/\d+$/);
        await p.waitForLoadState('networkidle');
        // the text part, unfolded on request, is text too
        assert.deepEqual(p.dialogs, [], 'no dialog opened');
        assert.deepEqual(p.foreign, [], 'no request to another origin');
        assert.equal(await p.locator('img[src="x"]').count(), 0);
        assert.ok(!EVIL.startsWith(ORIGIN));
        const log = readFileSync(env('DESK_EVIL_LOG'), 'utf8');
        assert.equal(log, '', 'the other origin was never asked for anything');
        await p.close();
    });

    test('an agent cannot open a ticket of a queue they are not in, by its URL', async () => {
        const p = await watched(agent);
        await p.goto(`${URL_}/desk/tickets/${FOREIGN}`);
        const h1 = p.locator('#ticket-title');
        await h1.waitFor();
        assert.equal(await h1.textContent(), 'Ticket not found');
        assert.match(await p.locator('.ticket .error').textContent(),
                     new RegExp(`Ticket #${FOREIGN} was not found.*queue you are not a member of`));
        assert.ok(!(await p.content()).includes('Invoice 2291'), 'nothing of the ticket shows');
        await p.close();
    });

    test('keyboard only: triage of 20 new tickets (j/k, Enter, a, s, u)', async () => {
        await page.goto(`${URL_}/desk/views/status-new`);
        await page.locator('table.tickets[data-loaded="true"]').waitFor();
        const rows = page.locator('table.tickets tbody tr');
        assert.equal(await rows.count(), 20);
        const focused = () => page.evaluate(() => document.activeElement && document.activeElement.dataset.id);
        await page.waitForFunction(() => document.activeElement && document.activeElement.dataset.id);
        for (let i = 0; i < 20; i++) {
            const left = 20 - i;
            await page.waitForFunction((n) => document.querySelectorAll('table.tickets tbody tr').length === n
                                       && document.activeElement && document.activeElement.dataset.id, left);
            const first = await focused();
            if (left > 1) {
                await page.keyboard.press('j');
                await page.waitForFunction((id) => document.activeElement.dataset.id !== id, first);
                await page.keyboard.press('k');
                await page.waitForFunction((id) => document.activeElement.dataset.id === id, first);
            }
            await page.keyboard.press('Enter');
            await page.waitForURL(`**/desk/tickets/${first}`);
            await page.locator('#ticket-title:focus').waitFor();
            await page.keyboard.press('a');
            await page.getByText('Assignee: you').waitFor();
            await page.keyboard.press('s');
            await page.locator('#t-status [role="menuitemradio"]:focus').waitFor();
            await page.keyboard.press('2');          // open
            await page.locator('.ticket-bar .badge.status-open').waitFor();
            await page.keyboard.press('u');
            await page.waitForURL('**/desk/views/status-new');
        }
        await page.getByText('No tickets in this view.').waitFor();
        const r = await api(page, `/tickets?queue_id=${TRIAGE_QUEUE}&limit=50`);
        assert.equal(r.items.length, 20);
        for (const t of r.items) {
            assert.equal(t.status, 'open', `#${t.id} is open`);
            assert.equal(t.assignee_id, AGENT_ID, `#${t.id} is assigned to the agent`);
        }
    });

    test('bulk: x selects two tickets, p sets their priority', async () => {
        await page.goto(`${URL_}/desk/views/queue-${TRIAGE_QUEUE}`);
        await page.locator('table.tickets[data-loaded="true"]').waitFor();
        await page.waitForFunction(() => document.activeElement && document.activeElement.dataset.id);
        await page.keyboard.press('x');
        await page.keyboard.press('j');
        await page.keyboard.press('x');
        await page.locator('.bulk span', { hasText: '2 selected' }).waitFor();
        await page.keyboard.press('p');
        await page.locator('#bulk-priority [role="menuitemradio"]:focus').waitFor();
        await page.keyboard.press('1');            // urgent
        await page.locator('.inbox div.ok', { hasText: 'Setting the priority to urgent: 2 of 2' }).waitFor();
        const r = await api(page, `/tickets?queue_id=${TRIAGE_QUEUE}&priority=urgent&limit=50`);
        assert.equal(r.items.length, 2);
    });

    test('? shows every shortcut', async () => {
        await page.goto(`${URL_}/desk`);
        await page.locator('table.tickets[data-loaded="true"]').waitFor();
        await page.locator('body').press('?');
        const dialog = page.locator('dialog.help');
        await dialog.waitFor();
        for (const key of ['j / k', 'Enter or o', 'r', 'n', 'a', 's', '/', '?'])
            assert.ok(await dialog.locator('kbd', { hasText: key }).count() > 0, `shortcut ${key} listed`);
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'hidden' });
        await page.keyboard.press('/');
        assert.equal(await page.evaluate(() => document.activeElement.id), 'q');
        await page.keyboard.type('printer');
        await page.keyboard.press('Enter');
        await page.waitForURL('**/desk?q=printer');
        await page.locator(`a[data-id="${TICKET}"]`).waitFor();
    });

    test('a lost connection shows a banner, and the desk reconnects by itself', async () => {
        await page.goto(`${URL_}/desk`);
        await page.locator('table.tickets[data-loaded="true"]').waitFor();
        await agent.setOffline(true);
        await page.locator('.views a', { hasText: 'Assigned to me' }).click();
        const banner = page.locator('.banner[role="alert"]');
        await banner.waitFor();
        assert.match(await banner.textContent(), /Connection to the server lost/);
        assert.match(await page.locator('.inbox .error').textContent(), /cannot be reached/);
        await agent.setOffline(false);
        await banner.waitFor({ state: 'detached' });
        await page.locator('table.tickets[data-loaded="true"] tbody tr').first().waitFor();
        assert.equal(await page.locator('.inbox .error').count(), 0);
    });

    test('two-factor sign-in: enrol, then sign in with a code and with a recovery code', async () => {
        const ctx = await browser.newContext();
        const p = await watched(ctx);
        await signIn(p, 'other@example.com');
        await p.locator('table.tickets').waitFor();
        await p.getByRole('link', { name: 'Olga Other' }).click();
        await p.getByRole('button', { name: 'Set it up' }).click();
        const key = (await p.locator('.secret code').first().textContent()).replace(/\s+/g, '');
        // each code is of a later step than the one before (the server
        // takes a step once) and one the server accepts when it checks it
        // (its step, one before or one after): the step now or the next,
        // so a step boundary crossed between typing and checking is no
        // failure; when the next step is not yet near, wait for it
        let last = 0;
        const nextCode = async () => {
            const s = Math.max(last + 1, step());
            await until('a TOTP step the server accepts', () => s <= step() + 1, 35000);
            last = s;
            return totp(key, s);
        };
        await p.locator('#totp-code').fill(await nextCode());
        await p.getByRole('button', { name: 'Switch on' }).click();
        const codes = p.locator('.recovery li code');
        await codes.first().waitFor();
        assert.ok(await codes.count() >= 5);
        const recovery = await codes.first().textContent();
        await p.getByRole('button', { name: 'Sign out' }).click();

        await signInAfterSignOut(p, 'other@example.com');
        await p.locator('#code').fill(await nextCode());
        await p.getByRole('button', { name: 'Sign in' }).click();
        await p.getByRole('heading', { name: 'Your account' }).waitFor();   // back where it was
        await p.getByRole('button', { name: 'Sign out' }).click();

        await signInAfterSignOut(p, 'other@example.com');
        await p.getByRole('button', { name: 'Use a recovery code instead' }).click();
        await p.locator('#code').fill(recovery);
        await p.getByRole('button', { name: 'Sign in' }).click();
        await p.getByRole('heading', { name: 'Your account' }).waitFor();
        await p.locator('#totp-off').fill(await nextCode());
        await p.getByRole('button', { name: 'Switch off' }).click();
        await p.getByRole('button', { name: 'Set it up' }).waitFor();
        assert.deepEqual(p.dialogs, []);
        await ctx.close();
    });

    test('a customer session cannot use the desk', async () => {
        const ctx = await browser.newContext();
        const p = await watched(ctx);
        await signIn(p, 'customer@example.org');
        const alert = p.locator('[role="alert"]', { hasText: 'The desk is for agents' });
        await alert.waitFor();
        assert.ok(!(await p.content()).includes('Carla asks'), 'no ticket shows');
        assert.deepEqual(p.apiCalls.filter((c) => !c.includes('/auth/')), [], 'the desk asked for no data');
        await p.reload();
        await alert.waitFor();
        await ctx.close();
    });

    test('360 px wide: inbox and ticket fit the screen', async () => {
        const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 1 });
        const p = await watched(ctx);
        await signIn(p, 'agent@example.com');
        await p.locator('table.tickets[data-loaded="true"]').waitFor();
        assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling');
        assert.equal(await p.locator('.views').isVisible(), false, 'the views fold away');
        await p.screenshot({ path: path.join(SHOTS, 'inbox-360.png') });
        await p.goto(`${URL_}/desk/tickets/${TICKET}`);
        await p.locator('.msg-note').waitFor();
        assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling');
        await p.screenshot({ path: path.join(SHOTS, 'ticket-360.png'), fullPage: true });
        await ctx.close();
    });

    test('accessibility: no serious or critical axe-core finding (WCAG 2 A and AA) on any screen', async () => {
        // axe is put into the page by the test, so this context alone lets
        // a script past the desk's CSP; the desk itself runs as always
        const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
        const p = await watched(ctx);
        const audit = async (what) => assert.deepEqual(await axeFindings(p, what), []);
        await p.goto(`${URL_}/desk`);
        await p.locator('#email').waitFor();
        await audit('sign-in');
        await p.locator('#email').fill('agent@example.com');
        await p.locator('#password').fill(PW);
        await p.getByRole('button', { name: 'Sign in' }).click();
        await p.locator('table.tickets[data-loaded="true"] tbody tr').first().waitFor();
        await audit('inbox');
        await p.goto(`${URL_}/desk/tickets/${TICKET}`);
        await p.locator('.msg-note').waitFor();
        await audit('ticket');
        await p.goto(`${URL_}/desk/tickets/${HOSTILE}`);
        await p.locator('iframe.mail').waitFor();
        await audit('hostile ticket');
        await p.goto(`${URL_}/desk/account`);
        await p.getByRole('heading', { name: 'Your account' }).waitFor();
        await audit('account');
        await p.goto(`${URL_}/desk`);
        await p.locator('table.tickets[data-loaded="true"]').waitFor();
        await p.locator('body').press('?');
        await p.locator('dialog.help').waitFor();
        await audit('shortcuts');
        await ctx.close();
    });

    test('the desk raised no script error on any page', () => {
        assert.deepEqual(problems, []);
    });

    after(async () => {
        if (agent)
            await agent.close();
    });
});
