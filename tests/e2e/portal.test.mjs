// tests/e2e/portal.test.mjs -- the customer portal in headless chromium
// (Debian's /usr/bin/chromium, driven by playwright-core).  Run by
// tests/integration/portal_e2e_pg.sh, which starts atumd (web and SMTP),
// the smarthost that keeps the customer's mails, and passes PORTAL_*.
// One story, in order: a customer mails in over SMTP, claims the account
// from the acknowledgement's link, signs in, sees the ticket, replies with
// a file; the agent sees the reply, answers (and writes an internal note),
// solves the ticket; the customer rates it from the solved mail.  No
// internal note is ever in the portal's DOM.  Every wait is for a
// condition, bounded.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { env, launchBrowser, axeFindings, until, watchedPage } from './harness.mjs';

const URL_ = env('PORTAL_URL');
const ORIGIN = new URL(URL_).origin;
const SHOTS = env('PORTAL_SCREENSHOTS');
const SINK = env('PORTAL_SINK');
const TOKEN = env('PORTAL_AGENT_TOKEN');
const FOREIGN = Number(env('PORTAL_FOREIGN'));
const NOTE = 'INTERNAL-NOTE-e2e-5531 never for the customer';
const CUSTOMER = 'carla@acme.example';
const PASSWORD = 'carla correct horse battery';

let browser;
const problems = [];
const watched = (context) => watchedPage(context, ORIGIN, problems);

before(async () => {
    browser = await launchBrowser();
});

after(async () => {
    if (browser)
        await browser.close();
});

// the text parts of the mails the smarthost got for an address, oldest first
function mailsTo(addr) {
    const out = [];
    for (const f of readdirSync(SINK).filter((n) => n.endsWith('.json')).sort()) {
        const env_ = JSON.parse(readFileSync(path.join(SINK, f), 'utf8'));
        if (!(env_.rcpt_tos || []).includes(addr))
            continue;
        const eml = path.join(SINK, f.replace(/\.json$/, '.eml'));
        const subject = execFileSync('/usr/bin/python3', [env('PORTAL_MAILCHECK'), 'header', eml, 'Subject'], { encoding: 'utf8' });
        const text = execFileSync('/usr/bin/python3', [env('PORTAL_MAILCHECK'), 'text', eml], { encoding: 'utf8' });
        out.push({ subject: subject.trim(), text });
    }
    return out;
}

async function api(method, p, body) {
    const res = await fetch(`${URL_}/api/v1${p}`, {
        method,
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function noNote(page, where) {
    const html = await page.content();
    assert.ok(!html.includes('INTERNAL-NOTE-e2e-5531'), `the internal note is in the portal's DOM (${where})`);
}

describe('the customer portal', () => {
    let ctx, page, ticket;

    before(async () => {
        ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
        page = await watched(ctx);
    });

    test('a customer mails in over SMTP and is acknowledged with a portal link', async () => {
        const eml = path.join(env('PORTAL_TMP'), 'carla.eml');
        writeFileSync(eml, ['From: Carla Customer <carla@acme.example>', 'To: support@example.com',
            'Subject: My printer is on fire', 'Message-ID: <e2e-carla@acme.example>', '',
            'Hello,', '', 'the printer in room 4 smokes.', '', 'Carla', ''].join('\r\n'));
        execFileSync('/usr/bin/python3', [env('PORTAL_SMTPTOOL'), 'send', env('PORTAL_SMTP_PORT'), 'support@example.com', eml]);
        const ack = await until('the acknowledgement', () => mailsTo(CUSTOMER).find((m) => /My printer is on fire/.test(m.subject)));
        const m = /http:\/\/portal\.test(\/portal\/tickets\/(\d+))/.exec(ack.text);
        assert.ok(m, `the acknowledgement has a portal link: ${ack.text}`);
        ticket = Number(m[2]);
        page.ackPath = m[1];
    });

    test('the link leads an unsigned customer to sign in, then by a mailed link to a password, then back to the ticket', async () => {
        await page.goto(URL_ + page.ackPath);
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        assert.match(page.url(), /\/portal\/signin\?next=%2Fportal%2Ftickets%2F/);
        await page.screenshot({ path: path.join(SHOTS, 'portal-signin.png') });
        const before_ = mailsTo(CUSTOMER).length;
        await page.locator('#signin-email').fill(CUSTOMER);
        await page.getByRole('button', { name: 'Mail me a sign-in link' }).click();
        await page.getByText('If the address may have a link').waitFor();
        const mail = await until('the sign-in mail', () => mailsTo(CUSTOMER).slice(before_).find((x) => /sign-in link/.test(x.subject)));
        const link = /http:\/\/portal\.test(\/portal\/link#[A-Za-z0-9_-]+)/.exec(mail.text);
        assert.ok(link, 'the mail has the link');
        await page.goto(URL_ + link[1]);
        await page.getByRole('heading', { name: 'Choose a password' }).waitFor();
        assert.ok(!page.url().includes('#'), 'the token left the address bar');
        await page.locator('#new-password').fill('short');
        await page.locator('#repeat-password').fill('short');
        await page.getByRole('button', { name: 'Save and sign in' }).click();
        await page.locator('#new-password-error').waitFor();
        assert.equal(await page.locator('#new-password').inputValue(), 'short', 'the text stays after a refusal');
        await page.locator('#new-password').fill(PASSWORD);
        await page.locator('#repeat-password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Save and sign in' }).click();
        await page.getByRole('heading', { name: 'My printer is on fire' }).waitFor();
        assert.equal(new URL(page.url()).pathname, `/portal/tickets/${ticket}`);
        // the same link a second time says so and offers a new one
        const p2 = await watched(await browser.newContext());
        await p2.goto(URL_ + link[1]);
        await p2.getByRole('heading', { name: 'This link was already used' }).waitFor();
        await p2.getByRole('link', { name: 'Ask for a new link' }).waitFor();
        await p2.context().close();
    });

    test('my requests: the list shows the ticket', async () => {
        await page.goto(`${URL_}/portal`);
        await page.getByRole('link', { name: /My printer is on fire/ }).waitFor();
        assert.equal(await page.getByText('Bob private matter').count(), 0);
        await page.screenshot({ path: path.join(SHOTS, 'portal-list.png'), fullPage: true });
    });

    test('the customer replies with a file; the agent sees it', async () => {
        await page.goto(`${URL_}/portal/tickets/${ticket}`);
        await page.locator('#reply-body').fill('It still smokes. Photo attached.');
        await page.locator('#reply-files').setInputFiles({ name: 'smoke.txt', mimeType: 'text/plain', buffer: Buffer.from('smoke smoke') });
        await page.getByRole('button', { name: 'Send' }).click();
        await page.getByText('Sent. We will answer here and by mail.').waitFor();
        await page.getByRole('link', { name: 'smoke.txt' }).waitFor();
        const t = await until('the agent to see the reply', async () => {
            const r = await api('GET', `/tickets/${ticket}`);
            return r.json.messages.find((m) => m.body_text === 'It still smokes. Photo attached.') ? r.json : null;
        });
        assert.equal(t.messages.at(-1).attachments[0].filename, 'smoke.txt');
    });

    test('the agent answers (and notes); the portal shows the answer by itself, never the note', async () => {
        assert.equal((await api('POST', `/tickets/${ticket}/notes`, { body: NOTE })).status, 201);
        assert.equal((await api('POST', `/tickets/${ticket}/replies`, { body: 'A technician is on the way, Carla.' })).status, 201);
        // no reload: the live channel, or the 30-second re-read while visible
        await page.getByText('A technician is on the way, Carla.').waitFor({ timeout: 45000 });
        await noNote(page, 'ticket after the answer');
        await page.screenshot({ path: path.join(SHOTS, 'portal-ticket.png'), fullPage: true });
        // no API answer the portal received carried the note either
        const r = await page.evaluate(async (id) => (await fetch(`/api/v1/tickets/${id}`)).text(), ticket);
        assert.ok(!r.includes('INTERNAL-NOTE-e2e-5531'));
    });

    test("customer A cannot open customer B's ticket by its portal URL", async () => {
        await page.goto(`${URL_}/portal/tickets/${FOREIGN}`);
        await page.getByText('There is no such request, or it is not yours to see.').waitFor();
        assert.equal(await page.getByText('Bob private matter').count(), 0);
        assert.equal(await page.getByText('Private.').count(), 0);
    });

    test('a new request, with the knowledge-base slot and field errors', async () => {
        await page.goto(`${URL_}/portal/new`);
        await page.getByRole('heading', { name: 'New request' }).waitFor();
        await page.locator('#new-body').fill('The toner is empty too.');
        await page.getByRole('button', { name: 'Send' }).click();
        await page.locator('#new-subject-error').waitFor();
        assert.equal(await page.locator('#new-body').inputValue(), 'The toner is empty too.', 'nothing lost');
        await page.locator('#new-subject').fill('Toner');
        await page.locator('#new-queue').selectOption({ label: 'billing' });
        await page.screenshot({ path: path.join(SHOTS, 'portal-new.png'), fullPage: true });
        await page.getByRole('button', { name: 'Send' }).click();
        await page.getByRole('heading', { name: 'Toner' }).waitFor();
        await page.getByText('The toner is empty too.').waitFor();
    });

    test('solved: the customer rates from the mail with one click, no sign-in; the agent sees it', async () => {
        assert.equal((await api('PATCH', `/tickets/${ticket}`, { status: 'solved' })).status, 200);
        const mail = await until('the solved mail', () => mailsTo(CUSTOMER).find((m) => /how did we do/.test(m.subject)));
        const five = /http:\/\/portal\.test(\/portal\/rate#t=[A-Za-z0-9_-]+&s=5)/.exec(mail.text);
        assert.ok(five, 'the solved mail has the rating links');
        const anon = await browser.newContext({ viewport: { width: 900, height: 700 } });
        const p = await watched(anon);
        await p.goto(URL_ + five[1]);
        await p.getByRole('heading', { name: 'Thank you!' }).waitFor();
        await p.locator('#csat-comment').fill('Fast and friendly.');
        await p.getByRole('button', { name: 'Save the comment' }).click();
        await p.getByText('Thank you for the comment.').waitFor();
        await p.screenshot({ path: path.join(SHOTS, 'portal-csat.png'), fullPage: true });
        await anon.close();
        const t = (await api('GET', `/tickets/${ticket}`)).json;
        assert.equal(t.csat.score, 5);
        assert.equal(t.csat.comment, 'Fast and friendly.');
        // and in the desk's ticket view
        const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const d = await watched(desk);
        await d.goto(`${URL_}/desk`);
        await d.locator('#email').fill('ann@example.com');
        await d.locator('#password').fill('agent-password-1');
        await d.getByRole('button', { name: 'Sign in' }).click();
        await d.locator('table.tickets[data-loaded="true"]').waitFor();
        await d.goto(`${URL_}/desk/tickets/${ticket}`);
        await d.getByRole('heading', { name: "Customer's rating" }).waitFor();
        await d.getByText('5 of 5').waitFor();
        await d.getByText('Fast and friendly.').waitFor();
        // the agent invites the requester from the desk: an invitation mail
        const invites = mailsTo(CUSTOMER).filter((x) => /invited/.test(x.subject)).length;
        await d.getByRole('button', { name: 'Invite to the portal' }).click();
        await d.getByText('Invitation mailed.').waitFor();
        await until('the invitation mail', () => mailsTo(CUSTOMER).filter((x) => /invited/.test(x.subject)).length === invites + 1);
        await desk.close();
        // the portal shows the rating on the ticket too
        await page.goto(`${URL_}/portal/tickets/${ticket}`);
        await page.getByRole('heading', { name: 'Your rating' }).waitFor();
        assert.equal(await page.locator('.score.chosen').innerText(), '5 Very good');
        await noNote(page, 'solved ticket');
    });

    test('works at 360 px: the list and the ticket, without sideways scrolling', async () => {
        const small = await browser.newContext({ viewport: { width: 360, height: 740 } });
        const p = await watched(small);
        await p.goto(`${URL_}/portal/signin`);
        await p.locator('#email').fill(CUSTOMER);
        await p.locator('#password').fill(PASSWORD);
        await p.getByRole('button', { name: 'Sign in', exact: true }).click();
        await p.getByRole('link', { name: /My printer is on fire/ }).waitFor();
        assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling (list)');
        await p.screenshot({ path: path.join(SHOTS, 'portal-list-360.png'), fullPage: true });
        await p.goto(`${URL_}/portal/tickets/${ticket}`);
        await p.getByText('A technician is on the way, Carla.').waitFor();
        assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling (ticket)');
        await noNote(p, 'ticket at 360 px');
        await p.screenshot({ path: path.join(SHOTS, 'portal-ticket-360.png'), fullPage: true });
        await small.close();
    });

    test('accessibility: no serious or critical axe-core finding (WCAG 2 A and AA) on any screen', async () => {
        const actx = await browser.newContext({ bypassCSP: true, viewport: { width: 1100, height: 800 } });
        const p = await watched(actx);
        const audit = async (what) => assert.deepEqual(await axeFindings(p, what), []);
        await p.goto(`${URL_}/portal/signin`);
        await p.locator('#email').waitFor();
        await audit('sign-in');
        await p.locator('#email').fill(CUSTOMER);
        await p.locator('#password').fill(PASSWORD);
        await p.getByRole('button', { name: 'Sign in', exact: true }).click();
        await p.getByRole('link', { name: /My printer is on fire/ }).waitFor();
        await audit('list');
        await p.goto(`${URL_}/portal/tickets/${ticket}`);
        await p.getByRole('heading', { name: 'Your rating' }).waitFor();
        await audit('ticket');
        await p.goto(`${URL_}/portal/new`);
        await p.locator('#new-subject').waitFor();
        await audit('new request');
        await p.goto(`${URL_}/portal/account`);
        await p.getByRole('heading', { name: 'Your account' }).waitFor();
        await audit('account');
        await actx.close();
    });

    test('nothing was loaded from another origin, and no script error', () => {
        assert.deepEqual(page.foreign, []);
        assert.deepEqual(problems, []);
    });

    after(async () => {
        if (ctx)
            await ctx.close();
    });
});
