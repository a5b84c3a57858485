// tests/e2e/live.test.mjs -- the desk's live work in headless chromium
// (Debian's /usr/bin/chromium, playwright-core), run by
// tests/integration/desk_live_e2e_pg.sh against a real atumd with an SMTP
// listener.  Every wait is for a condition, bounded by playwright's
// timeouts; the one timing figure asserted (a mail in an open inbox
// within 1 s) is what the desk promises its agents.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { env, launchBrowser, require } from './harness.mjs';

const URL_ = env('DESK_URL');
const PW = env('DESK_PW');
const SHOTS = env('DESK_SCREENSHOTS');
const TICKET = Number(env('DESK_TICKET'));
const SMTP = env('DESK_SMTP_PORT');
const TMP = env('DESK_TMP');
const SINK = env('DESK_SINK');

let browser;
const problems = [];

before(async () => {
    browser = await launchBrowser();
});

after(async () => {
    if (browser)
        await browser.close();
});

async function agentPage(email) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(`${email} ${page.url()}: ${e.message}`));
    page.on('dialog', (d) => d.dismiss().catch(() => {}));
    await page.goto(`${URL_}/desk`);
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(PW);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('table.tickets[data-loaded="true"]').waitFor();
    // the live channel is up (the desk reads the API's capabilities first)
    await page.locator('.live-state', { hasText: 'Live updates: on' }).waitFor({ timeout: 15000 });
    return { ctx, page };
}

// One SMTP session, said line by line; resolves with the time the server
// answered the end of DATA with 250 (the mail is accepted: "sent").
function smtpSend(subject, body, headers = [], messageId = null) {
    const mid = messageId || `<${Date.now()}.${Math.random().toString(36).slice(2)}@example.org>`;
    const mail = ['From: Sam Sender <sam@example.org>', 'To: support@example.com', `Subject: ${subject}`,
                  `Message-ID: ${mid}`, ...headers, '', body, '.', ''].join('\r\n');
    const steps = ['EHLO live.test', 'MAIL FROM:<sam@example.org>', 'RCPT TO:<support@example.com>', 'DATA', mail, 'QUIT'];
    return new Promise((resolve, reject) => {
        const sock = net.connect(Number(SMTP), '127.0.0.1');
        let buf = '';
        let step = -1;
        let accepted = 0;
        sock.setTimeout(10000, () => reject(new Error(`SMTP timed out: ${buf}`)));
        sock.on('error', reject);
        sock.on('data', (d) => {
            buf += d.toString();
            // a complete reply: its last line has a space after the code
            const lines = buf.split('\r\n').filter((l) => l);
            const last = lines[lines.length - 1];
            if (!buf.endsWith('\r\n') || !last || last[3] !== ' ')
                return;
            buf = '';
            const code = Number(last.slice(0, 3));
            if (code >= 400) {
                reject(new Error(`SMTP refused: ${last}`));
                sock.destroy();
                return;
            }
            if (step === 4)
                accepted = Date.now();
            step++;
            if (step < steps.length)
                sock.write(step === 4 ? steps[step] : `${steps[step]}\r\n`);
            else {
                sock.end();
                resolve(accepted);
            }
        });
    });
}

function agentToken(ticket, user, version) {
    const day = Math.floor(Date.now() / 86400000);
    const mac = createHmac('sha256', env('DESK_SECRET')).update(`atum-reply:${ticket}:a${user}:d${day}:v${version}`).digest();
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    let bits = '';
    for (const b of mac)
        bits += b.toString(2).padStart(8, '0');
    let b32 = '';
    for (let i = 0; i + 5 <= bits.length && b32.length < 12; i += 5)
        b32 += alphabet[parseInt(bits.slice(i, i + 5), 2)];
    return `t${ticket}a${user}d${day}v${version}.${b32}`;
}

// The header of a mail as one string per field (folded lines joined).
function header(eml, name) {
    const head = eml.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
    const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    return line ? line.slice(name.length + 1).trim() : '';
}

// The first mail the test smarthost (tests/smtpsink.py) stored that
// holds text, waiting for it at most ms.
async function sunk(text, ms) {
    const end = Date.now() + ms;
    for (;;) {
        for (const f of readdirSync(SINK).filter((n) => n.endsWith('.eml')).sort()) {
            const eml = readFileSync(path.join(SINK, f), 'latin1');
            if (eml.includes(text))
                return eml;
        }
        if (Date.now() > end)
            throw new Error(`no mail with "${text}" reached the smarthost in ${ms} ms`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

describe('live desk', () => {
    let a;
    let b;

    test('a mail sent over SMTP appears in the open inbox without a reload within 1 s', async (t) => {
        a = await agentPage('agent@example.com');
        const subject = `Live over SMTP ${Date.now()}`;
        const row = a.page.locator('table.tickets a', { hasText: subject });
        assert.equal(await row.count(), 0);
        const navigations = [];
        a.page.on('framenavigated', (f) => { if (f === a.page.mainFrame()) navigations.push(f.url()); });
        const shown = row.waitFor({ timeout: 5000 }).then(() => Date.now());
        const t0 = await smtpSend(subject, 'The coffee machine is leaking.');
        const ms = (await shown) - t0;
        t.diagnostic(`in the inbox ${ms} ms after the SMTP server accepted the mail`);
        assert.deepEqual(navigations, [], 'no reload');
        assert.ok(ms <= 1000, `in the inbox after ${ms} ms (at most 1000)`);
        await a.page.screenshot({ path: path.join(SHOTS, 'inbox-live.png') });
    });

    test('the agent replies from the desk, the reply reaches the smarthost threaded, the customer\'s answer appears live', async (t) => {
        const first = `<first.${Date.now()}@example.org>`;
        const subject = `Live story ${Date.now()}`;
        await smtpSend(subject, 'My screen flickers.', [], first);
        const row = a.page.locator('table.tickets a', { hasText: subject });
        await row.waitFor({ timeout: 5000 });
        await row.click();
        await a.page.locator('#ticket-title', { hasText: subject }).waitFor();
        await a.page.keyboard.press('r');
        await a.page.locator('#compose-reply').waitFor();
        const answer = `Please update the driver (${Date.now()}).`;
        await a.page.keyboard.type(answer);
        await a.page.keyboard.press('Control+Enter');
        await a.page.locator('.msg-agent', { hasText: answer }).waitFor();
        // the outbox delivers it through the smarthost, threaded on the
        // customer's mail
        const out = await sunk(answer, 30000);
        assert.match(header(out, 'To'), /sam@example\.org/);
        assert.ok(header(out, 'In-Reply-To').includes(first), `In-Reply-To: ${header(out, 'In-Reply-To')}`);
        assert.ok(header(out, 'References').includes(first), `References: ${header(out, 'References')}`);
        const ours = header(out, 'Message-ID');
        assert.match(ours, /^<.+>$/);
        // the customer answers that mail; the open ticket shows it without a reload
        const navigations = [];
        a.page.on('framenavigated', (f) => { if (f === a.page.mainFrame()) navigations.push(f.url()); });
        const thanks = `Thanks, the driver fixed it (${Date.now()}).`;
        const shown = a.page.locator('.msg-customer', { hasText: thanks }).waitFor({ timeout: 5000 }).then(() => Date.now());
        const t0 = await smtpSend(`Re: ${subject}`, thanks, [`In-Reply-To: ${ours}`, `References: ${first} ${ours}`]);
        const ms = (await shown) - t0;
        t.diagnostic(`the answer on the open ticket ${ms} ms after the SMTP server accepted it`);
        assert.deepEqual(navigations, [], 'no reload');
        assert.equal(await a.page.locator('.msg-customer', { hasText: 'My screen flickers.' }).count(), 1,
                     'on the same ticket as the first mail');
    });

    test('two agents on one ticket see each other\'s presence, typing too', async () => {
        b = await agentPage('other@example.com');
        await a.page.goto(`${URL_}/desk/tickets/${TICKET}`);
        await a.page.locator('#ticket-title').waitFor();
        await a.page.locator('.live-state', { hasText: 'Live updates: on' }).waitFor({ timeout: 15000 });
        await b.page.goto(`${URL_}/desk/tickets/${TICKET}`);
        await b.page.locator('#ticket-title').waitFor();
        await a.page.locator('.presence', { hasText: 'Olga Other' }).waitFor({ timeout: 10000 });
        await b.page.locator('.presence', { hasText: 'Alex Agent' }).waitFor({ timeout: 10000 });
        await b.page.keyboard.press('r');
        await b.page.locator('#compose-reply').waitFor();
        await b.page.keyboard.type('Olga is writing');
        await a.page.locator('.presence .viewer-typing', { hasText: 'Olga Other (typing…)' }).waitFor({ timeout: 10000 });
        await a.page.screenshot({ path: path.join(SHOTS, 'presence.png') });
    });

    test('the second reply gets the 409 with the newer message; the draft is kept and goes on the second try', async () => {
        // Olga's draft was started on the version both saw; Alex replies first
        await a.page.keyboard.press('r');
        await a.page.locator('#compose-reply').waitFor();
        await a.page.keyboard.type('Alex answers first.');
        await a.page.keyboard.press('Control+Enter');
        await a.page.locator('.msg-agent', { hasText: 'Alex answers first.' }).waitFor();
        const area = b.page.locator('#compose-reply');
        await area.fill('Olga answers too.');
        await b.page.keyboard.press('Control+Enter');
        const crossed = b.page.locator('section.crossed');
        await crossed.waitFor();
        assert.match(await crossed.textContent(), /Alex answers first\./);
        assert.match(await b.page.locator('#compose-reply-err').textContent(), /changed/i);
        assert.equal(await area.inputValue(), 'Olga answers too.', 'the draft is kept');
        const sent = await b.page.locator('.msg-agent', { hasText: 'Olga answers too.' }).count();
        assert.equal(sent, 0, 'nothing was sent');
        await b.page.screenshot({ path: path.join(SHOTS, 'reply-409.png'), fullPage: true });
        await b.page.keyboard.press('Control+Enter');
        await b.page.locator('.msg-agent', { hasText: 'Olga answers too.' }).waitFor();
        assert.equal(await crossed.count(), 0);
    });

    test('a reply by mail that crossed a newer message is offered to its author: send it now', async () => {
        const me = await a.page.evaluate(async () => (await (await fetch('/api/v1/auth/me')).json()).user.id);
        const t = await a.page.evaluate(async (id) => (await fetch(`/api/v1/tickets/${id}`)).json(), TICKET);
        const stale = t.version - 1;
        const tok = agentToken(TICKET, me, stale);
        const f = path.join(TMP, 'held.eml');
        writeFileSync(f, ['From: agent@example.com', `To: support+${tok}@example.com`, 'Subject: Re: printer',
                          `Message-ID: <held-${Date.now()}@example.com>`, '', 'My answer by mail.', ''].join('\r\n'));
        execFileSync(env('DESK_CTL'), ['inject', '--from', 'agent@example.com', '--to', `support+${tok}@example.com`],
                     { input: require('node:fs').readFileSync(f) });
        const held = a.page.locator('section.held');
        await held.waitFor({ timeout: 15000 });
        await held.getByRole('button', { name: 'Send it now' }).click();
        await a.page.locator('.msg-agent', { hasText: 'My answer by mail.' }).waitFor();
        await held.waitFor({ state: 'detached' });
    });

    test('the desk raised no script error', () => {
        assert.deepEqual(problems, []);
    });

    after(async () => {
        if (a)
            await a.ctx.close();
        if (b)
            await b.ctx.close();
    });
});
