// tests/e2e/desk_work.test.mjs -- an agent's day in the desk, in headless
// chromium (Debian's /usr/bin/chromium driven by playwright-core): run by
// tests/integration/desk_work_e2e_pg.sh, which starts atumd, a smarthost
// and "another origin", makes the tickets and passes them in DESK_*.
// Every wait is for a condition, bounded by playwright's timeouts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { env, launchBrowser, axeFindings, pageApi as api, until, watchedPage } from './harness.mjs';

const URL_ = env('DESK_URL');
const ORIGIN = new URL(URL_).origin;
const PW = env('DESK_PW');
const SHOTS = env('DESK_SCREENSHOTS');
const TICKET = Number(env('DESK_TICKET'));
const TONER = Number(env('DESK_TONER'));
const REMOTE = Number(env('DESK_REMOTE'));
const FOREIGN = Number(env('DESK_FOREIGN'));
const TRIAGE_QUEUE = Number(env('DESK_TRIAGE_QUEUE'));
const SUPPORT_QUEUE = Number(env('DESK_SUPPORT_QUEUE'));
const AGENT_ID = Number(env('DESK_AGENT_ID'));
const SINK = env('DESK_SINK');
const FILES = env('DESK_FILES');
const EVIL = env('DESK_EVIL_URL');

let browser;
const problems = [];
const watched = (context) => watchedPage(context, ORIGIN, problems, { dialogs: true });

before(async () => {
    browser = await launchBrowser();
});

after(async () => {
    if (browser)
        await browser.close();
});

// Signs in with the keyboard only.
async function signIn(page, email, password = PW) {
    await page.goto(`${URL_}/desk`);
    await page.locator('#email:focus').waitFor();
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await page.locator('table.tickets[data-loaded="true"]').waitFor();
}

async function count(page, view) {
    const c = page.locator(`.views a[data-view="${view}"] .count`);
    await c.waitFor();
    return Number((await c.textContent()).replace(/\D/g, ''));
}

describe('an agent at work', () => {
    let ctx;
    let page;

    test('keyboard only: sign in, and the sidebar counts every view', async () => {
        ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
        page = await watched(ctx);
        await signIn(page, 'agent@example.com');
        const r = await api(page, 'GET', '/tickets/counts');
        assert.equal(r.status, 200);
        assert.equal(await count(page, 'unassigned'), r.json.unassigned);
        assert.equal(await count(page, 'status-new'), 20);
        assert.equal(await count(page, `queue-${TRIAGE_QUEUE}`), 20);
        assert.equal(await count(page, 'all'), r.json.all);
    });

    test('keyboard only: triage of 20 tickets -- open, assign, set the status, on to the next', async () => {
        await page.goto(`${URL_}/desk/views/queue-${TRIAGE_QUEUE}?sort=created_at`);
        await page.locator('table.tickets[data-loaded="true"]').waitFor();
        assert.equal(await page.locator('table.tickets tbody tr').count(), 20);
        await page.waitForFunction(() => document.activeElement && document.activeElement.dataset.id);
        const seen = [];
        for (let i = 0; i < 20; i++) {
            if (i > 0) {
                const was = seen[i - 1];
                await page.waitForFunction((id) => document.activeElement && document.activeElement.dataset.id === String(id), was)
                    .catch(async (e) => {
                        const where = await page.evaluate(() => `${location.href} focus: ${document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : 'none'}`);
                        throw new Error(`the focus did not come back to #${was} (${where}): ${e.message}`);
                    });
                await page.keyboard.press('j');
                await page.waitForFunction((id) => document.activeElement.dataset.id !== String(id), was);
            }
            const id = Number(await page.evaluate(() => document.activeElement.dataset.id));
            seen.push(id);
            await page.keyboard.press('Enter');
            await page.waitForURL(`**/desk/tickets/${id}`);
            await page.locator('#ticket-title:focus').waitFor();
            await page.keyboard.press('a');
            await page.getByText('Assignee: you').waitFor();
            await page.keyboard.press('s');
            await page.locator('#t-status [role="menuitemradio"]:focus').waitFor();
            await page.keyboard.press('2');          // open
            await page.locator('.ticket-bar .badge.status-open').waitFor();
            await page.keyboard.press('u');
            await page.waitForURL(`**/desk/views/queue-${TRIAGE_QUEUE}?sort=created_at`);
        }
        // oldest first, each once
        assert.equal(new Set(seen).size, 20);
        const r = await api(page, 'GET', `/tickets?queue_id=${TRIAGE_QUEUE}&sort=created_at&limit=50`);
        assert.deepEqual(r.json.items.map((t) => t.id), seen);
        for (const t of r.json.items) {
            assert.equal(t.status, 'open');
            assert.equal(t.assignee_id, AGENT_ID);
            assert.equal(t.assignee.name, 'Alex Agent');
        }
        // the sidebar followed: no new ticket left, none of them unassigned
        await page.waitForFunction(() => {
            const c = document.querySelector('.views a[data-view="status-new"] .count');
            return c && c.textContent.replace(/\D/g, '') === '0';
        });
        const c = await api(page, 'GET', '/tickets/counts');
        assert.equal(await count(page, 'unassigned'), c.json.unassigned);
        assert.equal(await count(page, 'mine'), 20);
    });

    test('bulk: x selects, n adds a note to each, and a refused merge says why for each ticket', async () => {
        await page.goto(`${URL_}/desk/views/queue-${SUPPORT_QUEUE}`);
        await page.locator('table.tickets[data-loaded="true"]').waitFor();
        // the bulk note is there once the desk knows the server has it
        await page.getByRole('button', { name: 'Note…' }).waitFor();
        await page.locator(`a[data-id="${TONER}"]`).focus();
        await page.keyboard.press('x');
        await page.locator(`a[data-id="${TICKET}"]`).focus();
        await page.keyboard.press('x');
        await page.locator('.bulk span', { hasText: '2 selected' }).waitFor();
        await page.keyboard.press('n');
        await page.locator('#bulk-note:focus').waitFor();
        await page.keyboard.type('Called the customer: both printers.');
        await page.keyboard.press('Control+Enter');
        await page.locator('.inbox div.ok', { hasText: 'Adding the note: 2 of 2' }).waitFor();
        for (const id of [TONER, TICKET]) {
            const t = await api(page, 'GET', `/tickets/${id}`);
            assert.ok(t.json.messages.some((m) => m.visibility === 'internal' && m.body_text === 'Called the customer: both printers.'));
        }
        // a merge into a ticket of another queue: refused for each, in words
        await page.locator(`a[data-id="${TONER}"]`).focus();
        await page.keyboard.press('x');
        await page.locator(`a[data-id="${REMOTE}"]`).focus();
        await page.keyboard.press('x');
        await page.getByRole('button', { name: 'Merge…' }).click();
        await page.locator('#bulk-merge').fill(String(FOREIGN));
        await page.keyboard.press('Enter');
        const err = page.locator('.inbox div.error', { hasText: `Merging into #${FOREIGN}: 2 of 2` });
        await err.waitFor();
        const lines = await err.locator('li').allTextContents();
        assert.equal(lines.length, 2);
        for (const l of lines)
            assert.match(l, /^#\d+: No such ticket\.$/);
        const t = await api(page, 'GET', `/tickets/${TONER}`);
        assert.equal(t.json.merged_into, null, 'nothing was merged');
    });

    test('reply with an attachment: limits shown next to the field, and the mail reaches the smarthost with the file', async () => {
        writeFileSync(path.join(FILES, 'notes.txt'), 'Room 4: new fuse fitted.\n');
        writeFileSync(path.join(FILES, 'huge.bin'), Buffer.alloc(150 * 1024, 7));
        await page.goto(`${URL_}/desk/tickets/${TICKET}`);
        await page.locator('#ticket-title:focus').waitFor();
        await page.keyboard.press('r');
        await page.locator('#compose-reply:focus').waitFor();
        await page.keyboard.type('The technician came; see the notes attached.');
        // too large for mail.max_attachment_size (100K here)
        await page.locator('#compose-reply-files').setInputFiles(path.join(FILES, 'huge.bin'));
        const ferr = page.locator('#compose-reply-files-err');
        await ferr.waitFor();
        assert.match(await ferr.textContent(), /huge\.bin: .*mail\.max_attachment_size/);
        assert.equal(await page.locator('#compose-reply-files').getAttribute('aria-invalid'), 'true');
        await page.getByRole('button', { name: 'Remove huge.bin' }).click();
        await page.locator('#compose-reply-files').setInputFiles(path.join(FILES, 'notes.txt'));
        await page.locator('.uploads li', { hasText: 'notes.txt' }).locator('text=uploaded').waitFor();
        await page.locator('#compose-reply').focus();
        await page.keyboard.press('Control+Enter');
        const sent = page.locator('.msg-agent', { hasText: 'The technician came' });
        await sent.waitFor();
        assert.equal(await sent.locator('.files a').textContent(), 'notes.txt');
        // the smarthost has it, threaded, with the file
        const mail = await until('the reply at the smarthost', () => {
            for (const f of readdirSync(SINK).filter((x) => x.endsWith('.eml')).sort()) {
                const raw = readFileSync(path.join(SINK, f), 'latin1');
                if (raw.includes('notes.txt') && readFileSync(path.join(SINK, f.replace('.eml', '.rcpt')), 'utf8').includes('pat@example.org'))
                    return raw;
            }
            return null;
        }, 30000);
        assert.match(mail, /^In-Reply-To: <work-1@example\.org>/m);
        assert.match(mail, /filename="?notes\.txt"?/);
        const b64 = Buffer.from('Room 4: new fuse fitted.\n').toString('base64');
        assert.ok(mail.replace(/\r?\n/g, '').includes(b64) || mail.includes('Room 4: new fuse fitted.'), 'the file\'s bytes travel with it');
        // the desk shows the delivery in words
        await until('the delivery state', async () => {
            await page.reload();
            await page.locator('.msg-agent', { hasText: 'The technician came' }).waitFor();
            return /Mail: Sent/.test(await page.locator('.msg-agent', { hasText: 'The technician came' }).locator('.delivery').textContent());
        }, 30000);
        // and the history and the requester beside it
        await page.locator('.side .history li', { hasText: 'Replied to the customer' }).waitFor();
        await page.locator('.side', { hasText: 'pat@example.org' }).waitFor();
        await page.locator('.side .others a', { hasText: 'The toner is empty' }).waitFor();
        await page.locator('.views a .count').first().waitFor();
        await page.screenshot({ path: path.join(SHOTS, 'ticket.png'), fullPage: true });
    });

    test('canned response with its placeholders filled, then a macro applied in one step', async () => {
        await page.goto(`${URL_}/desk/tickets/${TONER}`);
        await page.locator('#ticket-title:focus').waitFor();
        await page.keyboard.press('r');
        await page.locator('#compose-reply:focus').waitFor();
        await page.locator('#compose-reply-canned').selectOption({ label: 'Greeting' });
        await page.getByRole('button', { name: 'Insert', exact: true }).click();
        await page.waitForFunction(() => document.querySelector('#compose-reply').value.includes('Hello'));
        const text = await page.locator('#compose-reply').inputValue();
        assert.equal(text, `Hello Pat Printer,\n\nabout ticket #${TONER} (The toner is empty): {{nope.unknown}}\n\nAlex Agent, support`);
        const unknown = page.locator('.composer .notice', { hasText: 'Left as written' });
        await unknown.waitFor();
        assert.equal(await unknown.locator('code').textContent(), '{{nope.unknown}}');
        await page.locator('.views a .count').first().waitFor();
        await page.screenshot({ path: path.join(SHOTS, 'compose.png') });
        // a macro: its text (filled in) and its changes, applied together
        await page.locator('#compose-reply-macro').selectOption({ label: 'Waiting for the customer' });
        await page.locator('.macro-note', { hasText: 'sets the status to pending' }).waitFor();
        assert.equal(await page.locator('#compose-reply').inputValue(), 'Dear Pat Printer, we need one more detail.');
        await page.locator('#compose-reply').focus();
        await page.keyboard.press('Control+Enter');
        await page.locator('.msg-agent', { hasText: 'we need one more detail' }).waitFor();
        await page.locator('.ticket-bar .badge.status-pending').waitFor();
        await page.locator('.ticket-bar .badge.priority-high').waitFor();
        await page.getByText('Assignee: you').waitFor();
        await page.locator('.side .history li', { hasText: 'Applied the macro “Waiting for the customer”' }).waitFor();
    });

    test('a draft is saved as one types, and comes back after a reload and on another device', async () => {
        await page.goto(`${URL_}/desk/tickets/${REMOTE}`);
        await page.locator('#ticket-title:focus').waitFor();
        await page.keyboard.press('r');
        await page.locator('#compose-reply:focus').waitFor();
        await page.keyboard.type('A draft that survives a reload.');
        await page.locator('#compose-reply-state', { hasText: 'Draft saved' }).waitFor();
        await page.reload();
        await page.locator('#ticket-title:focus').waitFor();
        await page.locator('.draft-notice', { hasText: 'You have an unsent reply' }).waitFor();
        await page.keyboard.press('r');
        await page.locator('#compose-reply:focus').waitFor();
        assert.equal(await page.locator('#compose-reply').inputValue(), 'A draft that survives a reload.');
        // another browser: the same draft
        const other = await browser.newContext({ viewport: { width: 1100, height: 800 } });
        const p2 = await watched(other);
        await signIn(p2, 'agent@example.com');
        await p2.goto(`${URL_}/desk/tickets/${REMOTE}`);
        await p2.locator('.draft-notice').waitFor();
        await p2.locator('#ticket-title').focus();
        await p2.keyboard.press('r');
        await p2.locator('#compose-reply:focus').waitFor();
        assert.equal(await p2.locator('#compose-reply').inputValue(), 'A draft that survives a reload.');
        await p2.keyboard.type(' Sent from the second desk.');
        await p2.keyboard.press('Control+Enter');
        await p2.locator('.msg-agent', { hasText: 'Sent from the second desk.' }).waitFor();
        // sending removed it everywhere
        const d = await api(p2, 'GET', `/tickets/${REMOTE}/draft`);
        assert.equal(d.status, 404);
        await page.keyboard.press('Escape');
        await page.reload();
        await page.locator('.msg-agent', { hasText: 'Sent from the second desk.' }).waitFor();
        assert.equal(await page.locator('.draft-notice').count(), 0);
        await other.close();
    });

    test('More…: the category, any assignee (the queue\'s rule said next to the field), link, unlink and merge', async () => {
        await page.goto(`${URL_}/desk/tickets/${TONER}`);
        await page.locator('#ticket-title:focus').waitFor();
        await page.getByRole('button', { name: 'More…' }).click();
        await page.locator('#more-category:focus').waitFor();
        await page.keyboard.type('hardware');
        await page.keyboard.press('Enter');
        await page.locator('.ticket-bar', { hasText: 'Category: hardware' }).waitFor();
        // Olga is an agent, but not of this queue: the server says so, next to the field
        await page.locator('#more-assignee option', { hasText: 'Olga Other' }).waitFor({ state: 'attached' });
        await page.locator('#more-assignee').selectOption({ label: 'Olga Other <other@example.com>' });
        await page.getByRole('button', { name: 'Assign', exact: true }).click();
        const aerr = page.locator('#more-assignee-err');
        await aerr.waitFor();
        assert.match(await aerr.textContent(), /agent of/);
        assert.equal(await page.locator('#more-assignee').getAttribute('aria-invalid'), 'true');
        await page.locator('.views a .count').first().waitFor();
        await page.screenshot({ path: path.join(SHOTS, 'ticket-more.png') });
        await page.locator('#more-assignee').selectOption({ label: 'nobody' });
        await page.getByRole('button', { name: 'Assign', exact: true }).click();
        await page.getByText('Assignee: nobody').waitFor();
        assert.equal(await aerr.count(), 0);
        // a link, shown beside the ticket, then undone
        await page.locator('#more-link').fill(`#${TICKET}`);
        await page.getByRole('button', { name: 'Link', exact: true }).click();
        await page.locator('.side .links a', { hasText: `#${TICKET}` }).waitFor();
        await page.locator('.side .history li', { hasText: `#${TICKET}` }).first().waitFor();
        await page.getByRole('button', { name: `Unlink #${TICKET}` }).click();
        await page.locator('.side .links').waitFor({ state: 'detached' });
        // merging: into itself and into nothing are refused with the reason
        const two = (await api(page, 'GET', `/tickets?queue_id=${TRIAGE_QUEUE}&sort=id&limit=2`)).json.items;
        await page.goto(`${URL_}/desk/tickets/${two[1].id}`);
        await page.locator('#ticket-title:focus').waitFor();
        await page.getByRole('button', { name: 'More…' }).click();
        await page.locator('#more-into').fill(String(two[1].id));
        await page.getByRole('button', { name: 'Merge', exact: true }).click();
        await page.locator('#more-merge-err', { hasText: 'cannot be merged into itself' }).waitFor();
        await page.locator('#more-into').fill('999999999');
        await page.getByRole('button', { name: 'Merge', exact: true }).click();
        await page.locator('#more-merge-err:not(:has-text("itself"))').waitFor();
        // the target is shown before the merge; if it changes meanwhile,
        // the merge is refused with what changed
        await page.locator('#more-into').fill(`#${two[0].id}`);
        await page.getByRole('button', { name: 'Merge', exact: true }).click();
        await page.locator('.merge-confirm', { hasText: `into #${two[0].id} ${two[0].subject}` }).waitFor();
        assert.equal((await api(page, 'PATCH', `/tickets/${two[0].id}`, { priority: 'low' })).status, 200);
        await page.getByRole('button', { name: `Merge into #${two[0].id}` }).click();
        await page.locator('#more-merge-err', { hasText: `Ticket #${two[0].id} changed since you saw it: priority` }).waitFor();
        assert.equal((await api(page, 'GET', `/tickets/${two[1].id}`)).json.merged_into, null, 'not merged');
        await page.getByRole('button', { name: 'Merge', exact: true }).click();
        await page.getByRole('button', { name: `Merge into #${two[0].id}` }).click();
        await page.locator('.notice', { hasText: `Merged into #${two[0].id}` }).waitFor();
        const merged = await api(page, 'GET', `/tickets/${two[1].id}`);
        assert.equal(merged.json.merged_into, two[0].id);
        const t = await api(page, 'GET', `/tickets/${TONER}`);
        assert.equal(t.json.category, 'hardware');
        assert.equal(t.json.assignee_id, null);
    });

    test('the stale-send guard: a macro and a bulk change made on what another session changed since are refused, and the desk says what changed', async () => {
        // this agent's live channel can be held back, as a slow network
        // would: the list then still shows the old versions
        const c1 = await browser.newContext({ viewport: { width: 1280, height: 860 } });
        const held = { on: false, frames: [] };
        await c1.routeWebSocket(/\/api\/v1\/events\/ws/, (ws) => {
            const server = ws.connectToServer();
            server.onMessage((m) => (held.on ? held.frames.push(() => ws.send(m)) : ws.send(m)));
        });
        const p1 = await watched(c1);
        await signIn(p1, 'agent@example.com');
        // the second session: a manager
        const c2 = await browser.newContext();
        const p2 = await watched(c2);
        await signIn(p2, 'manager@example.com');
        const make = async (subject) => {
            const r = await api(p1, 'POST', '/tickets', { subject, body: `About ${subject}.`, queue_id: SUPPORT_QUEUE });
            assert.equal(r.status, 201);
            return r.json.id;
        };
        const mt = await make('Guard: a macro');
        const b1 = await make('Guard: bulk one');
        const b2 = await make('Guard: bulk two');

        // a macro chosen, then the manager writes a note: applying it is refused
        await p1.goto(`${URL_}/desk/tickets/${mt}`);
        await p1.locator('#ticket-title:focus').waitFor();
        await p1.keyboard.press('r');
        await p1.locator('#compose-reply:focus').waitFor();
        await p1.locator('#compose-reply-macro').selectOption({ label: 'Waiting for the customer' });
        await p1.locator('.macro-note', { hasText: 'sets the status to pending' }).waitFor();
        assert.equal((await api(p2, 'POST', `/tickets/${mt}/notes`, { body: 'Manager: the customer called, wait.' })).status, 201);
        await p1.locator('#compose-reply').focus();
        await p1.keyboard.press('Control+Enter');
        await p1.locator('.crossed', { hasText: 'Manager: the customer called, wait.' }).waitFor();
        const why = p1.locator('#compose-reply-err');
        await why.waitFor();
        assert.match(await why.textContent(),
                     new RegExp(`^Ticket #${mt} changed since you saw it: an internal note from manager@example\\.com\\. Nothing was changed`));
        let t = (await api(p1, 'GET', `/tickets/${mt}`)).json;
        assert.notEqual(t.status, 'pending', 'the macro changed nothing');
        assert.ok(!t.messages.some((m) => /one more detail/.test(m.body_text)), 'the macro posted nothing');
        await p1.screenshot({ path: path.join(SHOTS, 'macro-409.png') });
        // read, the agent applies it again: now it goes
        await p1.locator('#compose-reply').focus();
        await p1.keyboard.press('Control+Enter');
        await p1.locator('.msg-agent', { hasText: 'we need one more detail' }).waitFor();
        await p1.locator('.ticket-bar .badge.status-pending').waitFor();

        // two tickets in the list; the manager raises one's priority, and
        // this agent's list does not hear of it before the bulk change
        await p1.goto(`${URL_}/desk/views/queue-${SUPPORT_QUEUE}`);
        await p1.locator('table.tickets[data-loaded="true"]').waitFor();
        await p1.locator(`a[data-id="${b2}"]`).waitFor();
        // (one request for all, once the desk knows the server has it)
        await p1.getByRole('button', { name: 'Note…' }).waitFor();
        held.on = true;
        assert.equal((await api(p2, 'PATCH', `/tickets/${b2}`, { priority: 'urgent' })).status, 200);
        for (const id of [b1, b2]) {
            await p1.locator(`a[data-id="${id}"]`).focus();
            await p1.keyboard.press('x');
        }
        await p1.locator('.bulk span', { hasText: '2 selected' }).waitFor();
        await p1.keyboard.press('s');
        await p1.locator('#bulk-status [role="menuitemradio"]:focus').waitFor();
        await p1.keyboard.press('3');          // pending
        const result = p1.locator('.inbox div.error', { hasText: 'Setting the status to pending: 2 of 2' });
        await result.waitFor();
        const lines = await result.locator('li').allTextContents();
        assert.equal(lines.length, 1, `only the changed ticket is listed: ${lines}`);
        assert.match(lines[0], new RegExp(`^#${b2}: Ticket #${b2} changed since you saw it: priority normal → urgent\\. Skipped`));
        assert.equal(await result.locator('li.stale').count(), 1);
        await p1.screenshot({ path: path.join(SHOTS, 'bulk-409.png') });
        t = (await api(p1, 'GET', `/tickets/${b1}`)).json;
        assert.equal(t.status, 'pending', 'the unchanged ticket was done');
        t = (await api(p1, 'GET', `/tickets/${b2}`)).json;
        assert.notEqual(t.status, 'pending', 'the changed one was skipped');
        assert.equal(t.priority, 'urgent');
        held.on = false;
        for (const send of held.frames.splice(0))
            send();
        await c2.close();
        await c1.close();
    });

    test('remote images stay out until the agent loads them, and even then only over https', async () => {
        await page.goto(`${URL_}/desk/tickets/${REMOTE}`);
        const frameEl = page.locator('iframe.mail');
        await frameEl.waitFor();
        assert.equal(await frameEl.getAttribute('sandbox'), 'allow-popups allow-popups-to-escape-sandbox');
        let frame = await (await frameEl.elementHandle()).contentFrame();
        await frame.getByText('marker REMOTE-HTML').waitFor();
        assert.equal(await frame.locator('img[src]').count(), 0);
        assert.equal(await frame.locator('img[data-remote-src]').count(), 1);
        await page.locator('.load-remote').focus();
        await page.keyboard.press('Enter');
        await page.waitForFunction(() => (document.querySelector('iframe.mail') || {}).src?.includes('remote_images=allow'));
        frame = await (await page.locator('iframe.mail').elementHandle()).contentFrame();
        await frame.getByText('marker REMOTE-HTML').waitFor();
        assert.equal(await frame.locator('img[src]').getAttribute('src'), `${EVIL}/tracker.png`);
        await page.getByText('Remote images of this mail are shown').waitFor();
        // an http: image is not loaded even now (the frame allows https:
        // only): the browser is done with it -- refused, not loaded -- and
        // the other origin saw nothing
        await frame.waitForFunction(() => { const i = document.querySelector('img[src]'); return i && i.complete; });
        assert.equal(await frame.locator('img[src]').evaluate((i) => i.naturalWidth), 0);
        assert.equal(readFileSync(env('DESK_EVIL_LOG'), 'utf8'), '');
    });

    test('saved views live on the server, with the order chosen and a count', async () => {
        await page.goto(`${URL_}/desk/views/queue-${SUPPORT_QUEUE}`);
        await page.locator('table.tickets[data-loaded="true"]').waitFor();
        await page.locator('#sort').selectOption('created_at');
        await page.waitForURL('**sort=created_at');
        await page.getByRole('button', { name: 'Save as view…' }).click();
        await page.locator('#vname').fill('Support, oldest first');
        await page.keyboard.press('Enter');
        const link = page.locator('.views a', { hasText: 'Support, oldest first' });
        await link.waitFor();
        await link.locator('.count').waitFor();
        const views = await api(page, 'GET', '/views');
        const v = views.json.items.find((x) => x.name === 'Support, oldest first');
        assert.deepEqual(v.filter, { queue_id: String(SUPPORT_QUEUE), sort: 'created_at' });
        const c = await api(page, 'GET', '/tickets/counts');
        assert.equal(Number((await link.locator('.count').textContent()).replace(/\D/g, '')),
                     c.json.views.find((x) => x.id === v.id).count);
        await page.locator(`a[data-id="${TICKET}"]`).focus();
        await page.screenshot({ path: path.join(SHOTS, 'inbox.png') });
        // the same name again: the reason next to the field
        await page.getByRole('button', { name: 'Save as view…' }).click();
        await page.locator('#vname').fill('SUPPORT, OLDEST FIRST');
        await page.keyboard.press('Enter');
        await page.locator('#vname-err', { hasText: 'You have a view of this name already.' }).waitFor();
        assert.equal(await page.locator('#vname').getAttribute('aria-invalid'), 'true');
    });

    test('a plugin\'s part of the ticket shows as a panel of its own', async () => {
        await page.goto(`${URL_}/desk/tickets/${TICKET}`);
        const panel = page.locator('section.plugin-testplug');
        await panel.waitFor();
        assert.match(await panel.locator('h2').textContent(), /Testplug/);
        assert.equal(await panel.locator('dt', { hasText: 'seen' }).count(), 1);
        assert.equal(await panel.locator('dd').first().textContent(), String(TICKET));
    });

    test('accessibility: no serious or critical axe-core finding on the new screens', async () => {
        const c = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
        const p = await watched(c);
        await signIn(p, 'agent@example.com');
        const audit = async (what) => assert.deepEqual(await axeFindings(p, what), []);
        await p.locator('.views a .count').first().waitFor();
        await p.getByRole('button', { name: 'Note…' }).waitFor();
        await p.locator(`a[data-id]`).first().focus();
        await p.keyboard.press('x');
        await p.keyboard.press('n');
        await p.locator('#bulk-note').waitFor();
        await audit('inbox with counts and the bulk note');
        await p.goto(`${URL_}/desk/tickets/${TICKET}`);
        await p.locator('#ticket-title:focus').waitFor();
        await p.keyboard.press('r');
        await p.locator('#compose-reply-canned').waitFor();
        await p.locator('.side .history li').first().waitFor();
        await audit('ticket with the composer, history and panels');
        await p.getByRole('button', { name: 'More…' }).click();
        await p.locator('#more-assignee option', { hasText: 'Alex Agent' }).waitFor({ state: 'attached' });
        await p.locator('#more-into').fill('x');
        await p.getByRole('button', { name: 'Merge', exact: true }).click();
        await p.locator('#more-merge-err').waitFor();
        await audit('ticket with "More…" open and an error next to a field');
        await c.close();
    });
});

describe('limits of the desk', () => {
    test('the password change: a wrong current password is named next to its field; the change ends the other sessions', async () => {
        const c1 = await browser.newContext();
        const c2 = await browser.newContext();
        const p1 = await watched(c1);
        const p2 = await watched(c2);
        await signIn(p1, 'other@example.com');
        await signIn(p2, 'other@example.com');
        await p1.goto(`${URL_}/desk/account`);
        await p1.locator('#pw-cur').fill('not my password');
        await p1.locator('#pw-new').fill('an entirely new secret');
        await p1.locator('#pw-rep').fill('an entirely new secret');
        await p1.getByRole('button', { name: 'Change password' }).click();
        const e = p1.locator('#pw-err-current_password');
        await e.waitFor();
        assert.equal(await e.textContent(), 'The current password is wrong.');
        assert.equal(await p1.locator('#pw-cur').getAttribute('aria-invalid'), 'true');
        await p1.locator('#pw-cur').fill(PW);
        await p1.getByRole('button', { name: 'Change password' }).click();
        await p1.locator('.account p.ok', { hasText: 'Your password was changed.' }).waitFor();
        // the other session is over: its next request signs it out -- unless
        // the live channel (closed with 4001) already did
        if (!(await p2.locator('#email').isVisible()))
            await p2.locator('.views a', { hasText: 'Assigned to me' }).click({ timeout: 5000 })
                .catch(() => {});       // gone meanwhile: signed out by the live channel
        await p2.locator('#email').waitFor();
        await p2.getByText('Your session has ended').waitFor();
        // this one goes on
        await p1.goto(`${URL_}/desk`);
        await p1.locator('table.tickets[data-loaded="true"]').waitFor();
        await c1.close();
        await c2.close();
    });

    test('an agent cannot open a ticket of a queue they are not in, by its URL', async () => {
        const c = await browser.newContext();
        const p = await watched(c);
        await signIn(p, 'agent@example.com');
        await p.goto(`${URL_}/desk/tickets/${FOREIGN}`);
        await p.locator('#ticket-title', { hasText: 'Ticket not found' }).waitFor();
        assert.ok(!(await p.content()).includes('Invoice 2291'));
        const r = await api(p, 'GET', `/tickets/${FOREIGN}/history`);
        assert.equal(r.status, 404);
        await c.close();
    });

    test('a customer session cannot open the desk', async () => {
        const c = await browser.newContext();
        const p = await watched(c);
        await p.goto(`${URL_}/desk`);
        await p.locator('#email').fill('customer@example.org');
        await p.locator('#password').fill(PW);
        await p.getByRole('button', { name: 'Sign in' }).click();
        await p.locator('[role="alert"]', { hasText: 'The desk is for agents' }).waitFor();
        await p.goto(`${URL_}/desk/tickets/${TICKET}`);
        await p.locator('[role="alert"]', { hasText: 'The desk is for agents' }).waitFor();
        assert.ok(!(await p.content()).includes('printer'));
        const r = await api(p, 'GET', '/tickets/counts');
        assert.equal(r.status, 403);
        await c.close();
    });

    test('360 px wide: the inbox with its counts and a ticket fit the screen', async () => {
        const c = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 1 });
        const p = await watched(c);
        await signIn(p, 'agent@example.com');
        await p.getByRole('button', { name: 'Note…' }).waitFor();
        assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling');
        await p.screenshot({ path: path.join(SHOTS, 'inbox-360.png') });
        await p.goto(`${URL_}/desk/tickets/${TICKET}`);
        await p.locator('.msg-agent').first().waitFor();
        await p.locator('.side .history li').first().waitFor();
        assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling');
        await p.screenshot({ path: path.join(SHOTS, 'ticket-360.png'), fullPage: true });
        await c.close();
    });

    test('no dialog, no request to another origin, no script error', () => {
        assert.deepEqual(problems, []);
    });
});
