// tests/e2e/portal_kb.test.mjs -- the portal's knowledge base in headless
// chromium (Debian's /usr/bin/chromium, driven by playwright-core).  Run by
// tests/integration/portal_kb_e2e_pg.sh, which imports tests/data/kb-portal,
// starts atumd with the rag plugin and passes PORTAL_* and KB_*.  In
// order: a signed-out visitor browses the categories, searches, opens an
// article; internal and draft articles are neither listed nor reachable;
// hostile content and search strings stay inert; a customer finds the KB
// from the header and the new-ticket form and closes a ticket with "this
// solved it"; 360 px, the keyboard, axe-core; then the rag plugin is turned
// off and the portal says the KB is not available.  Every wait is for a
// condition, bounded.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { env, launchBrowser, axeFindings, until, watchedPage } from './harness.mjs';

const URL_ = env('PORTAL_URL');
const ORIGIN = new URL(URL_).origin;
const SHOTS = env('PORTAL_SCREENSHOTS');
const TICKET = Number(env('KB_TICKET'));
const CUSTOMER = 'carla@customer.example';
const SECRET_WORDS = /zebracorn|quokka|staff VPN|new price list/i;

let browser;
const problems = [];
const pages = [];

// a watched page (harness.mjs) that also counts its searches
async function watched(context) {
    const page = await watchedPage(context, ORIGIN, problems, { dialogs: true, query: true });
    pages.push(page);
    page.searches = () => page.apiCalls.filter((c) => c.startsWith('GET /api/v1/plugins/rag/search?')).length;
    return page;
}

before(async () => {
    browser = await launchBrowser();
});

after(async () => {
    if (browser)
        await browser.close();
});

async function admin(method, p, body) {
    const res = await fetch(`${URL_}/api/v1${p}`, {
        method,
        headers: { Authorization: `Bearer ${env('KB_ADMIN_TOKEN')}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    return res.status;
}

async function noSecrets(page, where) {
    const text = await page.evaluate(() => document.body.innerText + document.documentElement.outerHTML);
    assert.doesNotMatch(text, SECRET_WORDS, `an internal or draft article is in the page (${where})`);
}

const nav = (page) => page.getByRole('navigation', { name: 'Portal' });

describe('the knowledge base in the portal', () => {
    let ctx, page;

    before(async () => {
        ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
        page = await watched(ctx);
    });

    test('a signed-out visitor browses the articles by category', async () => {
        await page.goto(`${URL_}/portal/kb`);
        await page.getByRole('heading', { level: 1, name: 'Knowledge base' }).waitFor();
        const cats = page.getByRole('navigation', { name: 'Categories' });
        await cats.getByRole('link', { name: 'Account' }).waitFor();
        assert.equal(await cats.getByRole('link', { name: 'Billing' }).count(), 1);
        // the category nobody named comes last; the hostile one is text
        assert.equal(await cats.getByRole('link', { name: 'Other articles' }).count(), 1);
        assert.equal(await cats.getByRole('link', { name: 'Security <b>bold</b>' }).count(), 1);
        const account = page.getByRole('region', { name: 'Account' });
        assert.equal(await account.getByRole('link').count(), 4, 'the Account heading and its three public articles');
        await page.getByRole('link', { name: 'How long does delivery take?' }).waitFor();
        assert.equal(await nav(page).getByRole('link', { name: 'Knowledge base' }).getAttribute('aria-current'), 'page');
        assert.equal(await nav(page).getByRole('link', { name: 'Sign in' }).count(), 1);
        await noSecrets(page, 'the list');
        await page.screenshot({ path: path.join(SHOTS, 'portal-kb.png'), fullPage: true });

        await cats.getByRole('link', { name: 'Billing' }).click();
        await page.getByRole('heading', { level: 1, name: 'Billing' }).waitFor();
        assert.match(page.url(), /\/portal\/kb\?category=Billing$/);
        const links = await page.locator('.kb-list a').allTextContents();
        assert.deepEqual(links.sort(), ['Getting a copy of an invoice', 'Refunds for a double charge']);
        await noSecrets(page, 'the Billing category');
        await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Knowledge base' }).click();
        await page.getByRole('heading', { level: 1, name: 'Knowledge base' }).waitFor();
    });

    test('search answers as one types, once the typing stops, with titles and snippets', async () => {
        await page.goto(`${URL_}/portal/kb`);
        const box = page.getByRole('searchbox', { name: 'Search the articles' });
        await box.waitFor();
        const before_ = page.searches();
        await box.pressSequentially('charged twice refund', { delay: 40 });
        const hit = page.locator('.kb-results li').filter({ hasText: 'Refunds for a double charge' });
        await hit.waitFor();
        assert.match(await hit.locator('.kb-snippet').textContent(), /refunded automatically/);
        assert.ok(page.searches() - before_ <= 2, `debounced: ${page.searches() - before_} searches for 20 keystrokes`);
        await page.getByRole('status').filter({ hasText: /found/ }).waitFor();
        assert.match(page.url(), /\/portal\/kb\?q=charged\+twice\+refund$/);
        // a reload shows the same search
        await page.reload();
        await page.locator('.kb-results li').filter({ hasText: 'Refunds for a double charge' }).waitFor();

        // the answer for these words (results or none) has none of the secret ones
        for (const secret of ['zebracorn7731 vpn certificate', 'quokka4410 price list']) {
            await box.fill(secret);
            await page.getByRole('region', { name: 'Results' }).waitFor();
            await noSecrets(page, `searching ${secret}`);
        }
        await box.fill('zebracorn7731');
        await page.getByText('No article matches.').waitFor();
        await box.fill('');
        await page.getByRole('navigation', { name: 'Categories' }).waitFor();
    });

    test('an article: its category, last update, the rendered body and related articles', async () => {
        await page.goto(`${URL_}/portal/kb`);
        await page.getByRole('link', { name: 'How do I reset my password?' }).click();
        await page.getByRole('heading', { level: 1, name: 'How do I reset my password?' }).waitFor();
        assert.match(page.url(), /\/portal\/kb\/reset-password$/);
        const crumbs = page.getByRole('navigation', { name: 'Breadcrumb' });
        assert.equal(await crumbs.getByRole('link', { name: 'Account' }).count(), 1);
        assert.match(await page.locator('.kb-article .meta').textContent(), /Updated/);
        assert.equal(await page.locator('.kb-article .meta time').count(), 1);
        await page.getByRole('heading', { level: 2, name: 'On the web' }).waitFor();
        assert.equal(await page.locator('.kb-body strong').first().textContent(), 'Forgot your password?');
        assert.equal(await page.locator('h1').count(), 1, 'one first-level heading');
        const related = page.getByRole('region', { name: 'Related articles' });
        await related.getByRole('link', { name: 'I forgot my username or my password' }).waitFor();
        await noSecrets(page, 'an article');
        await page.screenshot({ path: path.join(SHOTS, 'portal-kb-article.png'), fullPage: true });
        // a link inside the article to another one stays in the page
        await page.locator('.kb-body a', { hasText: 'how to change your email address' }).click();
        await page.getByRole('heading', { level: 1, name: 'How do I change my email address?' }).waitFor();
        await crumbs.getByRole('link', { name: 'Account' }).click();
        await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
    });

    test('internal and draft articles are not reachable by their address', async () => {
        for (const slug of ['vpn-internal', 'upcoming-draft']) {
            await page.goto(`${URL_}/portal/kb/${slug}`);
            await page.getByRole('heading', { name: 'Article not found' }).waitFor();
            await page.getByText('There is no such article.').waitFor();
            await noSecrets(page, slug);
        }
    });

    test('hostile article content and search strings stay inert', async () => {
        await page.goto(`${URL_}/portal/kb/hostile`);
        const h1 = page.getByRole('heading', { level: 1 });
        await h1.waitFor();
        assert.match(await h1.textContent(), /^Hostile <img src=x onerror=.*> article about passwords$/);
        await page.locator('.kb-body').waitFor();
        await page.locator('.kb-body').hover();
        const found = await page.evaluate(() => {
            const b = document.querySelector('.kb-body');
            const handlers = [...b.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name)));
            return {
                pwned: window.__kbPwned || null,
                scripts: b.querySelectorAll('script, style, iframe, img, object, embed').length,
                handlers: handlers.length,
                bad: [...b.querySelectorAll('a')].map((a) => a.getAttribute('href') || '').filter((h) => /^(javascript|vbscript|data):/i.test(h)),
                shown: getComputedStyle(document.body).display,
            };
        });
        assert.deepEqual(found, { pwned: null, scripts: 0, handlers: 0, bad: [], shown: 'block' });
        // the hostile category is text in the breadcrumb
        assert.equal(await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Security <b>bold</b>' }).count(), 1);
        assert.equal(await page.locator('.crumbs b').count(), 0);

        await page.goto(`${URL_}/portal/kb`);
        const box = page.getByRole('searchbox', { name: 'Search the articles' });
        const evil = '<img src=x onerror="window.__kbPwned=1"><script>window.__kbPwned=2</script> passwords';
        await box.fill(evil);
        await page.locator('.kb-results li').first().waitFor();
        assert.equal(await box.inputValue(), evil);
        assert.equal(await page.evaluate(() => window.__kbPwned || null), null);
        assert.equal(await page.locator('main img, main script').count(), 0);
        // the hostile title among the results is text too
        assert.equal(await page.locator('.kb-results a', { hasText: '<img src=x' }).count(), 1);
        await page.goto(`${URL_}/portal/kb?q=${encodeURIComponent(evil)}`);
        await page.locator('.kb-results li').first().waitFor();
        assert.equal(await page.evaluate(() => window.__kbPwned || null), null);
    });

    test('a customer finds the knowledge base from the header and the new-ticket form', async () => {
        await page.goto(`${URL_}/portal/signin`);
        await page.locator('#email').fill(CUSTOMER);
        await page.locator('#password').fill(env('KB_PW'));
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.getByRole('heading', { name: 'Your requests' }).waitFor();
        await nav(page).getByRole('link', { name: 'Knowledge base' }).click();
        await page.getByRole('heading', { level: 1, name: 'Knowledge base' }).waitFor();
        await noSecrets(page, 'the list, signed in');
        for (const slug of ['vpn-internal', 'upcoming-draft']) {
            await page.goto(`${URL_}/portal/kb/${slug}`);
            await page.getByText('There is no such article.').waitFor();
            await noSecrets(page, `${slug}, signed in`);
        }

        await page.goto(`${URL_}/portal/new`);
        await page.locator('#new-subject').fill('I need to reset my password');
        const suggest = page.locator('.suggest');
        await suggest.getByRole('link', { name: 'How do I reset my password?' }).waitFor();
        await suggest.getByRole('link', { name: 'Search the knowledge base' }).click();
        await page.getByRole('heading', { level: 1, name: 'Knowledge base' }).waitFor();
        assert.equal(await page.getByRole('searchbox', { name: 'Search the articles' }).inputValue(), 'I need to reset my password');
        await page.locator('.kb-results a', { hasText: 'How do I reset my password?' }).waitFor();
        await page.goto(`${URL_}/portal/new`);
        await page.locator('.suggest').getByRole('link', { name: 'How do I reset my password?' }).click();
        await page.getByRole('heading', { level: 1, name: 'How do I reset my password?' }).waitFor();
    });

    test('"this solved it" from the acknowledgement\'s link closes the customer\'s ticket', async () => {
        await page.goto(`${URL_}/portal/kb/reset-password?ticket=${TICKET}`);
        await page.getByRole('button', { name: `This solved my question: close ticket #${TICKET}` }).click();
        await page.getByRole('status').filter({ hasText: `Ticket #${TICKET} is closed.` }).waitFor();
    });

    test('readable at 360 px: the list, search results and an article, without sideways scrolling', async () => {
        const small = await browser.newContext({ viewport: { width: 360, height: 740 } });
        const p = await watched(small);
        await p.goto(`${URL_}/portal/kb`);
        await p.getByRole('navigation', { name: 'Categories' }).waitFor();
        assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling (list)');
        await p.screenshot({ path: path.join(SHOTS, 'portal-kb-360.png'), fullPage: true });
        await p.getByRole('searchbox', { name: 'Search the articles' }).fill('invoice pdf');
        await p.locator('.kb-results li').first().waitFor();
        assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling (search)');
        for (const slug of ['invoice-copy', 'hostile', 'reset-password']) {
            await p.goto(`${URL_}/portal/kb/${slug}`);
            await p.locator('.kb-body').waitFor();
            assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 360), `no sideways scrolling (${slug})`);
        }
        await small.close();
    });

    test('the keyboard alone: skip link, search, a result, the article', async () => {
        const kctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
        const p = await watched(kctx);
        await p.goto(`${URL_}/portal/kb`);
        await p.getByRole('navigation', { name: 'Categories' }).waitFor();
        await p.keyboard.press('Tab');
        assert.equal(await p.evaluate(() => document.activeElement.textContent), 'Skip to the content');
        await p.keyboard.press('Enter');
        let guard = 0;
        while (!(await p.evaluate(() => document.activeElement && document.activeElement.id === 'kb-q'))) {
            await p.keyboard.press('Tab');
            assert.ok(++guard < 10, 'the search box is among the first stops after the skip link');
        }
        await p.keyboard.type('refund');
        await p.locator('.kb-results li').first().waitFor();
        await p.keyboard.press('Tab');
        assert.equal(await p.evaluate(() => document.activeElement.textContent), 'Refunds for a double charge');
        await p.keyboard.press('Enter');
        await p.getByRole('heading', { level: 1, name: 'Refunds for a double charge' }).waitFor();
        // the reader goes on from the article's title
        await until('the focus on the title', () => p.evaluate(() => document.activeElement && document.activeElement.id === 'kb-h'));
        await p.keyboard.press('Tab');
        assert.equal(await p.evaluate(() => document.activeElement.textContent), 'It does not answer my question: write to us');
        await kctx.close();
    });

    test('accessibility: no serious or critical axe-core finding (WCAG 2 A and AA)', async () => {
        const actx = await browser.newContext({ bypassCSP: true, viewport: { width: 1100, height: 800 } });
        const p = await watched(actx);
        const audit = async (what) => assert.deepEqual(await axeFindings(p, what), []);
        await p.goto(`${URL_}/portal/kb`);
        await p.getByRole('navigation', { name: 'Categories' }).waitFor();
        await audit('the list');
        await p.goto(`${URL_}/portal/kb?q=password`);
        await p.locator('.kb-results li').first().waitFor();
        await audit('search results');
        await p.goto(`${URL_}/portal/kb/reset-password`);
        await p.getByRole('region', { name: 'Related articles' }).waitFor();
        await audit('an article');
        await p.goto(`${URL_}/portal/kb/vpn-internal`);
        await p.getByText('There is no such article.').waitFor();
        await audit('no such article');
        await actx.close();
    });

    test('with the rag plugin off the portal says the knowledge base is not available, and links to none', async () => {
        assert.equal(await admin('PATCH', '/plugins/rag', { enabled: false }), 200);
        try {
            const octx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
            const p = await watched(octx);
            await p.goto(`${URL_}/portal/kb`);
            await p.getByText('The knowledge base is not available.').waitFor();
            assert.equal(await p.getByRole('heading', { level: 1, name: 'Knowledge base' }).count(), 1);
            await p.goto(`${URL_}/portal/kb/reset-password`);
            await p.getByText('The knowledge base is not available.').waitFor();
            assert.equal(await p.getByRole('link', { name: 'Knowledge base' }).count(), 0, 'no link to the knowledge base');
            await p.goto(`${URL_}/portal/signin`);
            await p.locator('#email').fill(CUSTOMER);
            await p.locator('#password').fill(env('KB_PW'));
            await p.getByRole('button', { name: 'Sign in', exact: true }).click();
            await p.getByRole('heading', { name: 'Your requests' }).waitFor();
            await nav(p).getByRole('link', { name: 'New request' }).waitFor();
            assert.equal(await nav(p).getByRole('link', { name: 'Knowledge base' }).count(), 0, 'no link in the header');
            await p.goto(`${URL_}/portal/new`);
            await p.locator('#new-subject').fill('I need to reset my password');
            await p.locator('#new-body').fill('The reset mail never came.');
            await p.getByRole('button', { name: 'Send' }).waitFor();
            assert.equal(await p.getByRole('link', { name: 'Search the knowledge base' }).count(), 0);
            await octx.close();
        } finally {
            assert.equal(await admin('PATCH', '/plugins/rag', { enabled: true }), 200);
        }
    });

    test('nothing was loaded from another origin, and no script error or dialog', () => {
        assert.deepEqual(pages.flatMap((p) => p.foreign), []);
        assert.deepEqual(pages.flatMap((p) => p.dialogs), []);
        assert.deepEqual(problems, []);
    });

    after(async () => {
        if (ctx)
            await ctx.close();
    });
});
