// tests/e2e/desk_plugins.test.mjs -- the plugin panels beside a ticket
// against what the real triage, rag and smartreply plugins answer, in
// headless chromium (Debian's /usr/bin/chromium driven by playwright-core):
// run by tests/integration/desk_plugins_e2e_pg.sh, which starts atumd with
// the plugins, makes the ticket and passes it in DESK_*.  Each panel is
// compared with the ticket's answer (GET /api/v1/tickets/{id}, plugins.*)
// read in the same page.  Every wait is for a condition, bounded.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { env, launchBrowser, pageApi as api, until } from './harness.mjs';

const URL_ = env('DESK_URL');
const PW = env('DESK_PW');
const SHOTS = env('DESK_SCREENSHOTS');
const TICKET = Number(env('DESK_TICKET'));

let browser;
const problems = [];

before(async () => {
    browser = await launchBrowser();
});

after(async () => {
    if (browser)
        await browser.close();
});

const pct = (c) => `${Math.round(c * (c <= 1 ? 100 : 1))} %`;

describe('the plugin panels beside a ticket', () => {
    let page;
    let views;

    test('sign in and open the ticket: a panel per loaded plugin', async () => {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
        page = await ctx.newPage();
        page.on('pageerror', (e) => problems.push(e.message));
        await page.goto(`${URL_}/desk`);
        await page.locator('#email').fill('agent@example.com');
        await page.locator('#password').fill(PW);
        await page.keyboard.press('Enter');
        await page.locator('table.tickets[data-loaded="true"]').waitFor();
        await page.goto(`${URL_}/desk/tickets/${TICKET}`);
        await page.locator('#ticket-title').waitFor();
        const r = await api(page, 'GET', `/tickets/${TICKET}`);
        assert.equal(r.status, 200);
        views = r.json.plugins;
        for (const name of ['triage', 'rag', 'smartreply', 'sla'])
            assert.ok(views[name], `plugins.${name} is in the ticket's answer`);
        for (const name of ['triage', 'rag', 'smartreply', 'sla'])
            await page.locator(`section.plugin-${name}`).waitFor();
    });

    test('triage: category and priority with their confidences, as the plugin answered', async () => {
        const v = views.triage;
        const panel = page.locator('section.plugin-triage');
        assert.equal(await panel.locator('h2').textContent(), 'Triage');
        for (const [label, key] of [['Category', 'category'], ['Priority', 'priority'], ['Sentiment', 'sentiment'], ['Language', 'language']]) {
            assert.ok(v[key] && v[key].value, `plugins.triage.${key} has a value`);
            const dd = panel.locator('dt', { hasText: label }).locator('xpath=following-sibling::dd[1]');
            const text = await dd.textContent();
            assert.ok(text.startsWith(String(v[key].value)), `${label}: "${text}" shows ${v[key].value}`);
            if (typeof v[key].confidence === 'number')
                assert.ok(text.includes(`(${pct(v[key].confidence)} sure)`), `${label}: "${text}" shows the confidence`);
        }
        assert.match(await panel.textContent(), new RegExp(v.method));
    });

    test('triage: a correction goes through', async () => {
        const panel = page.locator('section.plugin-triage');
        await panel.getByRole('button', { name: 'Correct…' }).click();
        await page.locator('#tc-category').fill('account');
        await page.locator('#tc-priority').selectOption('urgent');
        await page.locator('#tc-sentiment').selectOption('negative');
        await panel.getByRole('button', { name: 'Send the correction' }).click();
        await panel.locator('p.ok[role="status"], p.error').first().waitFor().catch(async (e) => {
            throw new Error(`${e.message}\npanel: ${await panel.innerHTML()}`);
        });
        assert.match(await panel.locator('p.ok[role="status"], p.error').first().textContent(), /the correction teaches the classifier/);
        assert.equal(await page.locator('#tc-category').count(), 0, 'the form closes');
        const v = await until('the correction in the ticket\'s answer', async () => {
            const t = (await api(page, 'GET', `/tickets/${TICKET}`)).json.plugins.triage;
            return t.method === 'agent' ? t : null;
        });
        assert.equal(v.category.value, 'account');
        assert.equal(v.priority.value, 'urgent');
        await page.reload();
        const dd = page.locator('section.plugin-triage dt', { hasText: 'Category' }).locator('xpath=following-sibling::dd[1]');
        await until('the corrected category in the panel', async () => /^account/.test(await dd.textContent()));
        views = (await api(page, 'GET', `/tickets/${TICKET}`)).json.plugins;
    });

    test('smartreply: the draft (or why there is none), as the plugin answered', async () => {
        const v = views.smartreply;
        const panel = page.locator('section.plugin-smartreply');
        assert.equal(await panel.locator('h2').textContent(), 'Suggested reply');
        assert.equal(v.state, 'done', 'the draft is ready (the harness waited for it)');
        const r = v.draft.result || {};
        if (r.text) {
            assert.equal(await panel.locator('.suggestions li .text').first().textContent(), r.text);
            for (const s of (r.sources || []).filter((x) => x.title))
                assert.ok((await panel.textContent()).includes(s.title), `the source ${s.title} is named`);
        } else {
            assert.ok(r.reason, 'no text, so a reason');
            await panel.locator('p.muted', { hasText: `No suggestion: ${r.reason}` }).waitFor();
        }
    });

    test('smartreply: "Insert into the reply" puts the draft\'s insert text into the editor, and sends nothing', async () => {
        const r = views.smartreply.draft.result || {};
        assert.ok(r.insert, 'the local path drafted something to insert (the KB answers the subject)');
        const before_ = (await api(page, 'GET', `/tickets/${TICKET}`)).json.messages.length;
        const panel = page.locator('section.plugin-smartreply');
        await panel.getByRole('button', { name: 'Insert into the reply' }).click();
        const editor = page.locator('#compose-reply');
        await editor.waitFor();
        await until('the draft in the editor', async () => (await editor.inputValue()).includes(r.insert));
        const after_ = (await api(page, 'GET', `/tickets/${TICKET}`)).json.messages.length;
        assert.equal(after_, before_, 'inserting sends nothing');
    });

    test('smartreply: "New draft" writes another one', async () => {
        const old = views.smartreply.draft.id;
        const panel = page.locator('section.plugin-smartreply');
        await panel.getByRole('button', { name: 'New draft' }).click();
        await panel.locator('p.ok[role="status"]', { hasText: 'A new draft is being written' }).waitFor();
        const fresh = await until('a newer draft', async () => {
            const t = (await api(page, 'GET', `/tickets/${TICKET}`)).json;
            const d = t.plugins.smartreply.draft;
            return d && d.id > old && d.state === 'done' ? d : null;
        });
        assert.ok(fresh.result, 'the new draft has a result');
        // the panel shows it without a reload
        await panel.locator('p.ok[role="status"]', { hasText: 'The new draft is here' }).waitFor();
        if (fresh.result.text)
            assert.equal((await panel.locator('.suggestions li .text').first().textContent()).trim(),
                         fresh.result.text.trim());
    });

    test('rag: the ticket\'s suggestions, titles and links, and no duplicate element ids', async () => {
        const v = views.rag;
        assert.ok(v.suggestions.length > 0, 'the KB has an article for the subject');
        const panel = page.locator('section.plugin-rag');
        assert.equal(await page.locator('section.plugin-rag').count(), 1, 'one knowledge-base panel');
        assert.equal(await panel.locator('h2').textContent(), 'Knowledge base');
        const titles = await panel.locator('.suggestions li strong').allTextContents();
        assert.deepEqual(titles, v.suggestions.slice(0, 3).map((a) => a.title));
        assert.ok(v.suggestions.some((a) => a.slug === 'reset-password'), 'the article that answers it');
        const links = await panel.locator('.suggestions li a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
        assert.deepEqual(links, v.suggestions.slice(0, 3).map((a) => a.link));
        const dups = await page.evaluate(() => {
            const seen = new Map();
            for (const el of document.querySelectorAll('[id]'))
                seen.set(el.id, (seen.get(el.id) || 0) + 1);
            return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
        });
        assert.deepEqual(dups, []);
    });

    test('sla: the policy and its clocks, as the plugin answered', async () => {
        const v = views.sla;
        assert.equal(v.tracked, true, 'the support queue\'s policy applies');
        const panel = page.locator('section.plugin-sla');
        assert.equal(await panel.locator('h2').textContent(), 'Service level');
        for (const [label, key] of [['First response', 'first_response'], ['Resolution', 'resolution']]) {
            const c = v.clocks[key];
            assert.ok(c && c.tracked, `clocks.${key} is tracked`);
            const text = await panel.locator('dt', { hasText: label }).locator('xpath=following-sibling::dd[1]').textContent();
            assert.match(text, /^(\d+ min|\d+ h [1-5]?\d min) left, due /, `${label}: "${text}"`);
        }
        await panel.locator('p.muted', { hasText: 'Policy: Standard' }).waitFor();
    });

    test('a screenshot of the panels', async () => {
        await page.locator('.views a .count').first().waitFor();
        await page.screenshot({ path: path.join(SHOTS, 'desk-plugins.png'), fullPage: true });
        assert.deepEqual(problems, [], 'no script error on the page');
    });
});
