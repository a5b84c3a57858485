// tests/e2e/admin.test.mjs -- the admin pages in headless chromium
// (Debian's /usr/bin/chromium, driven by playwright-core).  Run by
// tests/integration/admin_e2e_pg.sh, which starts atumd, a private
// Dovecot and passes ADMIN_*.  In order: an agent gets no admin pages; an
// admin signs in, creates a customer, sees a refused field marked next to
// it with every typed character kept, invites and disables the customer,
// adds a mailbox pointing at the test Dovecot, retries a dead job, filters
// and verifies the audit log.  Every wait is for a condition, bounded; no
// request ever leaves the server's origin.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { env, launchBrowser, totp, totpStep, until, watchedPage } from './harness.mjs';

const URL_ = env('ADMIN_URL');
const ORIGIN = new URL(URL_).origin;
const SHOTS = env('ADMIN_SCREENSHOTS');
const PW = env('ADMIN_PW');
const DEAD_JOB = Number(env('ADMIN_DEAD_JOB'));
const IMAP_PORT = env('ADMIN_IMAP_PORT');
const SINK = env('ADMIN_SINK');
const SINK_CONTROL = env('ADMIN_SINK_CONTROL');

let browser;
const problems = [];
const watched = (context) => watchedPage(context, ORIGIN, problems, { cspConsole: true });

before(async () => {
    browser = await launchBrowser();
});

after(async () => {
    if (browser)
        await browser.close();
});

async function login(email) {
    const res = await fetch(`${URL_}/api/v1/auth/login`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password: PW }),
    });
    return { status: res.status, json: await res.json() };
}

// how many mails the smarthost got for an address
function mailsTo(addr) {
    if (!existsSync(SINK))
        return 0;
    return readdirSync(SINK).filter((n) => n.endsWith('.json'))
        .filter((n) => (JSON.parse(readFileSync(path.join(SINK, n), 'utf8')).rcpt_tos || []).includes(addr)).length;
}

// the API as the signed-in page: its session cookie, its CSRF token
async function apiAs(page, method, p, body) {
    return page.evaluate(async ([m, u, b]) => {
        const me = await (await fetch('/api/v1/auth/me')).json();
        const res = await fetch(`/api/v1${u}`, {
            method: m,
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token || '' },
            body: b === null ? undefined : JSON.stringify(b),
        });
        const text = await res.text();
        return { status: res.status, json: text ? JSON.parse(text) : null };
    }, [method, p, body === undefined ? null : body]);
}

// every id on the page once: labels, errors and aria-describedby point by id
async function uniqueIds(page) {
    const dup = await page.evaluate(() => {
        const seen = new Set();
        const twice = [];
        for (const el of document.querySelectorAll('[id]')) {
            if (seen.has(el.id))
                twice.push(el.id);
            seen.add(el.id);
        }
        return twice;
    });
    assert.deepEqual(dup, [], `ids used twice on ${page.url()}`);
}

async function signIn(page, email) {
    await page.goto(`${URL_}/admin`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(PW);
    await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the admin pages', () => {
    let page;

    test('an agent signs in at /admin and gets no admin page (and the API refuses the agent too)', async () => {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const p = await watched(ctx);
        await p.goto(`${URL_}/admin`);
        await p.getByRole('heading', { name: 'Sign in' }).waitFor();
        await p.screenshot({ path: path.join(SHOTS, 'admin-signin.png') });
        assert.equal(await p.getByText('Your session has ended').count(), 0, 'a first visit is not a lost session');
        await signIn(p, 'agent@example.com');
        await p.getByRole('heading', { name: 'No admin pages for this account' }).waitFor();
        assert.equal(await p.locator('nav.side').count(), 0, 'no admin navigation for an agent');
        await p.goto(`${URL_}/admin/audit`);
        await p.getByRole('heading', { name: 'No admin pages for this account' }).waitFor();
        assert.equal(await p.locator('#audit-list').count(), 0);
        assert.equal((await apiAs(p, 'GET', '/audit')).status, 403);
        assert.equal((await apiAs(p, 'GET', '/mailboxes')).status, 403);
        await p.goto(`${URL_}/admin/macros`);
        await p.getByRole('heading', { name: 'No admin pages for this account' }).waitFor();
        assert.equal(await p.locator('#macro-form').count(), 0);
        assert.equal((await apiAs(p, 'POST', '/macros', { title: 'Agent macro', body: 'x' })).status, 403);
        assert.deepEqual(p.foreign, []);
        await ctx.close();
    });

    test('the page is served with the strict Content-Security-Policy', async () => {
        const res = await fetch(`${URL_}/admin/users`);
        assert.equal(res.status, 200);
        const csp = res.headers.get('content-security-policy') || '';
        assert.match(csp, /default-src 'self'; script-src 'self'; style-src 'self'/);
        assert.match(await res.text(), /\/assets\/admin-[A-Z0-9]+\.js/);
    });

    test('an admin signs in and lands on the users page', async () => {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
        page = await watched(ctx);
        await signIn(page, 'admin@example.com');
        await page.getByRole('heading', { name: 'Users and roles', level: 1 }).waitFor();
        assert.equal(new URL(page.url()).pathname, '/admin/users');
        await page.getByRole('button', { name: 'Edit agent@example.com' }).waitFor();
        for (const name of ['Organisations', 'Queues and members', 'Mailboxes', 'Canned responses', 'Macros', 'Plugins', 'Jobs', 'Audit log', 'Webhooks', 'API tokens'])
            assert.equal(await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name }).count(), 1, `the ${name} link`);
    });

    test('a refused field is marked next to it and nothing typed is lost', async () => {
        await page.locator('#user-email').fill('not an address');
        await page.locator('#user-name').fill('Kept Name — ünïcode');
        await page.locator('#user-password').fill('a password of twenty');
        await page.getByRole('button', { name: 'Create user' }).click();
        const err = page.locator('#user-email-error');
        await err.waitFor();
        assert.match(await err.textContent(), /e-mail address/);
        assert.equal(await page.locator('#user-email').getAttribute('aria-invalid'), 'true');
        assert.match(await page.locator('#user-email').getAttribute('aria-describedby'), /user-email-error/);
        assert.equal(await page.evaluate(() => document.activeElement.id), 'user-email', 'the focus goes to the field');
        assert.equal(await page.locator('#user-email').inputValue(), 'not an address');
        assert.equal(await page.locator('#user-name').inputValue(), 'Kept Name — ünïcode');
        assert.equal(await page.locator('#user-password').inputValue(), 'a password of twenty');
        await page.screenshot({ path: path.join(SHOTS, 'admin-field-error.png') });
        // typing in the field clears its mark
        await page.locator('#user-email').fill('');
        assert.equal(await page.locator('#user-email-error').count(), 0);
    });

    test('the admin creates a customer', async () => {
        await page.locator('#user-email').fill('cora@customer.example');
        await page.locator('#user-name').fill('Cora Customer');
        await page.locator('#user-password').fill('');
        await page.locator('#user-role').selectOption('customer');
        await page.getByRole('button', { name: 'Create user' }).click();
        await page.getByText('Created cora@customer.example.').waitFor();
        await page.getByRole('button', { name: 'Edit cora@customer.example' }).waitFor();
        await page.getByRole('heading', { name: 'Edit cora@customer.example' }).waitFor();
        const r = await apiAs(page, 'GET', '/users?q=cora%40customer.example');
        assert.equal(r.json.items.length, 1);
        assert.equal(r.json.items[0].role, 'customer');
        assert.equal(r.json.items[0].name, 'Cora Customer');
        await page.screenshot({ path: path.join(SHOTS, 'admin-users.png') });
        await uniqueIds(page);
    });

    test('the admin invites the customer to the portal', async () => {
        await page.getByRole('button', { name: 'Invite to the portal' }).click();
        await page.getByText('An invitation to the portal is on its way to cora@customer.example.').waitFor();
        await until('the invitation at the smarthost', () => mailsTo('cora@customer.example') === 1);
        const id = (await apiAs(page, 'GET', '/users?q=cora%40customer.example')).json.items[0].id;
        const a = await apiAs(page, 'GET', `/audit?target=user:${id}&limit=20`);
        assert.ok(a.json.items.some((x) => /invit/.test(x.action)), `an invitation in the audit log: ${JSON.stringify(a.json.items.map((x) => x.action))}`);
    });

    test('the admin changes a role, then disables the account', async () => {
        // an agent account: role change through the same form
        await page.getByRole('button', { name: 'Edit agent@example.com' }).click();
        await page.locator('#user-role').selectOption('manager');
        await page.getByRole('button', { name: 'Save', exact: true }).click();
        await page.getByText('Saved agent@example.com.').waitFor();
        const ag = await apiAs(page, 'GET', '/users?q=agent%40example.com');
        assert.equal(ag.json.items[0].role, 'manager');
        await page.locator('#user-role').selectOption('agent');
        await page.getByRole('button', { name: 'Save', exact: true }).click();
        await page.getByText('Saved agent@example.com.').waitFor();

        await page.getByRole('button', { name: 'Edit cora@customer.example' }).click();
        await page.getByRole('button', { name: 'Disable account' }).click();
        await page.getByText('cora@customer.example is disabled').waitFor();
        await page.getByRole('button', { name: 'Enable account' }).waitFor();
        const r = await apiAs(page, 'GET', '/users?q=cora%40customer.example');
        assert.equal(r.json.items[0].disabled, true);
    });

    test('the admin adds a mailbox pointing at the test Dovecot', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Mailboxes' }).click();
        await page.getByRole('heading', { name: 'Mailboxes', level: 1 }).waitFor();
        await page.locator('#mailbox-name').fill('support');
        await page.locator('#mailbox-queue_id').selectOption({ label: 'support' });
        await page.locator('#mailbox-host').fill('127.0.0.1');
        await page.locator('#mailbox-port').fill(IMAP_PORT);
        await page.locator('#mailbox-security').selectOption('none');
        await page.locator('#mailbox-username').fill('support');
        await page.locator('#mailbox-password_env').fill('ATUM_IMAP_PASSWORD_SUPPORT');
        await page.locator('#mailbox-after_fetch').selectOption('seen');
        await page.getByRole('button', { name: 'Create mailbox' }).click();
        await page.getByText('Created support.').waitFor();
        const r = await apiAs(page, 'GET', '/mailboxes');
        assert.equal(r.json.items.length, 1);
        assert.equal(r.json.items[0].port, Number(IMAP_PORT));
        assert.equal(r.json.items[0].password_env, 'ATUM_IMAP_PASSWORD_SUPPORT');
        // a bad variable name: refused, marked, the rest kept
        await page.locator('#mailbox-password_env').fill('HOME');
        await page.getByRole('button', { name: 'Save', exact: true }).click();
        await page.locator('#mailbox-password_env-error').waitFor();
        assert.equal(await page.locator('#mailbox-password_env').inputValue(), 'HOME');
        assert.equal(await page.locator('#mailbox-host').inputValue(), '127.0.0.1');
        await page.locator('#mailbox-password_env').fill('ATUM_IMAP_PASSWORD_SUPPORT');
        await uniqueIds(page);
    });

    test('"Test connection": success against the test Dovecot, then failure with a wrong password', async () => {
        await page.goto(`${URL_}/admin/mailboxes`);
        await page.getByRole('heading', { name: 'Mailboxes', level: 1 }).waitFor();
        await page.getByRole('button', { name: 'Edit support' }).click();
        await page.getByRole('button', { name: 'Test connection' }).click();
        const res = page.locator('#mailbox-test');
        await until('a passed test', async () => (await res.count()) && /The connection works/.test(await res.textContent()));
        assert.equal(await res.locator('.step-bad').count(), 0);
        assert.ok(await res.locator('.step-ok').count() >= 2, 'the steps are listed');
        // the variable with the wrong password, not saved: the form is tested
        await page.locator('#mailbox-password_env').fill('ATUM_IMAP_PASSWORD_WRONG');
        await page.getByRole('button', { name: 'Test connection' }).click();
        await until('a failed test', async () => (await res.count()) && /The connection failed/.test(await res.textContent()));
        const bad = await res.locator('.step-bad').first().textContent();
        assert.match(bad, /Failed:/);
        assert.match(await res.textContent(), /log ?in|auth|password|credentials/i, 'the failure says what failed in words');
        await page.screenshot({ path: path.join(SHOTS, 'admin-mailbox-test.png'), fullPage: true });
        // a password typed for one test: the right one works, and is not saved
        await page.locator('#mailbox-test_password').fill('imap-e2e-secret');
        await page.getByRole('button', { name: 'Test connection' }).click();
        await until('a passed test with the typed password', async () => (await res.count()) && /The connection works/.test(await res.textContent()));
        const m = (await apiAs(page, 'GET', '/mailboxes')).json.items[0];
        assert.equal(m.password_env, 'ATUM_IMAP_PASSWORD_SUPPORT', 'nothing was saved by testing');
        // settings not saved yet, refused by the test: marked where they are wrong
        await page.getByRole('button', { name: 'New mailbox' }).click();
        await page.locator('#mailbox-name').fill('draft');
        await page.locator('#mailbox-port').fill('70000');
        await page.locator('#mailbox-host').fill('127.0.0.1');
        await page.locator('#mailbox-username').fill('support');
        await page.locator('#mailbox-test_password').fill('x');
        await page.getByRole('button', { name: 'Test connection' }).click();
        await page.locator('#mailbox-port-error').waitFor();
        assert.equal(await page.locator('#mailbox-port').inputValue(), '70000');
        assert.equal(await page.locator('#mailbox-name').inputValue(), 'draft');
        assert.equal((await apiAs(page, 'GET', '/mailboxes')).json.items.length, 1, 'a test saves nothing');
        assert.ok(!JSON.stringify(m).includes('imap-e2e-secret'));
        await uniqueIds(page);
    });

    test('the smarthost test reports each step', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Smarthost' }).click();
        await page.getByRole('button', { name: 'Test the smarthost' }).click();
        const res = page.locator('#smarthost-test');
        await res.waitFor();
        assert.match(await res.textContent(), /The connection works/);
    });

    test('a template: edited with a live preview, a problem marked on its part, saved', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Templates' }).click();
        await page.getByRole('button', { name: 'Edit template ack' }).click();
        const subject = page.locator('#template-preview-subject');
        await until('the first preview', async () => (await subject.count()) && /The printer on the third floor is jammed/.test(await subject.textContent()));
        await page.locator('#template-subject').fill('We have your message: {{subject}}');
        await until('the preview to follow the subject', async () =>
            (await subject.count()) && (await subject.textContent()) === 'We have your message: The printer on the third floor is jammed');
        const body = await page.locator('#template-body').inputValue();
        await page.locator('#template-body').fill(`${body}\n\nAdmin-e2e: {{no_such_variable}}`);
        await page.locator('#template-body-error').waitFor();
        assert.equal(await page.locator('#template-subject').inputValue(), 'We have your message: {{subject}}');
        await page.locator('#template-body').fill(`${body}\n\nAdmin-e2e line for {{customer_name}}.`);
        await until('the preview of the body', async () =>
            (await page.locator('#template-preview-text').count()) && /Admin-e2e line for Casey Customer\./.test(await page.locator('#template-preview-text').textContent()));
        assert.equal(await page.locator('#template-body-error').count(), 0);
        await page.screenshot({ path: path.join(SHOTS, 'admin-template.png') });
        await page.getByRole('button', { name: 'Save', exact: true }).click();
        await page.getByText('Saved ack for every queue.').waitFor();
        const t = await apiAs(page, 'GET', '/templates/ack');
        assert.equal(t.json.origin, 'global');
        assert.equal(t.json.subject, 'We have your message: {{subject}}');
        await uniqueIds(page);
    });

    test('the admin retries a dead job', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Jobs' }).click();
        await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
        const row = page.locator('#jobs-list tr', { hasText: 'admin-e2e: died on purpose' });
        await row.waitFor();
        await page.screenshot({ path: path.join(SHOTS, 'admin-jobs.png') });
        await page.getByRole('button', { name: `Retry job ${DEAD_JOB}` }).click();
        await page.getByText(`Job ${DEAD_JOB} (core.noop) is queued again.`).waitFor();
        await until('the job to leave the dead list', async () =>
            (await page.locator('#jobs-list tr', { hasText: 'admin-e2e: died on purpose' }).count()) === 0);
        const dead = await apiAs(page, 'GET', '/jobs?state=dead');
        assert.ok(!dead.json.items.some((j) => j.id === DEAD_JOB), 'the job is no longer dead');
    });

    test('the admin filters the audit log and verifies it', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Audit log' }).click();
        await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
        await page.locator('#audit-list').waitFor();
        // a filter the API refuses: marked next to it, kept
        await page.locator('#audit-actor_id').fill('abc');
        await page.locator('#audit-action').fill('user.disable');
        await page.getByRole('button', { name: 'Filter' }).click();
        await page.locator('#audit-actor_id-error').waitFor();
        assert.equal(await page.locator('#audit-actor_id').inputValue(), 'abc');
        assert.equal(await page.locator('#audit-action').inputValue(), 'user.disable');
        await page.locator('#audit-actor_id').fill('');
        await page.getByRole('button', { name: 'Filter' }).click();
        await until('only user.disable rows', async () => {
            const actions = await page.locator('#audit-list tbody td code:not(.detail)').allTextContents();
            return actions.length > 0 && actions.every((a) => a === 'user.disable');
        });
        // a family of actions and a kind of target
        await page.locator('#audit-action').fill('user.*');
        await page.locator('#audit-target_type').fill('user');
        await page.getByRole('button', { name: 'Filter' }).click();
        await until('only user.* rows on users', async () => {
            const actions = await page.locator('#audit-list tbody td code:not(.detail)').allTextContents();
            return actions.length > 1 && actions.every((a) => a.startsWith('user.')) && actions.includes('user.create');
        });
        const targets = await page.locator('#audit-list tbody tr td:nth-child(5)').allTextContents();
        assert.ok(targets.every((t) => t.startsWith('user:')), JSON.stringify(targets));
        await page.getByRole('button', { name: 'Verify the log' }).click();
        const v = page.locator('#audit-verify');
        await v.waitFor();
        assert.match(await v.textContent(), /The audit log is intact: \d+ entries/);
        await page.screenshot({ path: path.join(SHOTS, 'admin-audit.png') });
        await uniqueIds(page);
    });

    test('the pages work from the keyboard: the navigation, a row, its form', async () => {
        await page.goto(`${URL_}/admin/orgs`);
        await page.getByRole('heading', { name: 'Organisations', level: 1 }).waitFor();
        await page.locator('#org-name').focus();
        await page.keyboard.type('Acme Ltd');
        await page.keyboard.press('Tab');
        await page.keyboard.type('acme.example');
        await page.keyboard.press('Enter');
        await page.getByText('Created Acme Ltd.').waitFor();
        const o = await apiAs(page, 'GET', '/orgs');
        assert.ok(o.json.items.some((x) => x.name === 'Acme Ltd' && x.domain === 'acme.example'));
    });

    test('queues and members: the admin adds an agent to a queue and removes them again', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Queues and members' }).click();
        await page.getByRole('button', { name: 'Edit support' }).click();
        await page.getByRole('heading', { name: 'Members of support' }).waitFor();
        await page.getByRole('button', { name: 'Remove agent@example.com from support' }).click();
        await page.getByText('agent@example.com no longer works support.').waitFor();
        let q = await apiAs(page, 'GET', '/queues');
        const id = q.json.items.find((x) => x.name === 'support').id;
        assert.ok(!(await apiAs(page, 'GET', `/queues/${id}`)).json.members.some((m) => m.email === 'agent@example.com'));
        await page.locator('#member-add').selectOption({ label: 'Alex Agent <agent@example.com> (agent)' });
        await page.getByRole('button', { name: 'Add', exact: true }).click();
        await page.getByText('agent@example.com works support now.').waitFor();
        assert.ok((await apiAs(page, 'GET', `/queues/${id}`)).json.members.some((m) => m.email === 'agent@example.com'));
        // a new queue with an address that is none: marked, kept
        await page.getByRole('button', { name: 'New queue' }).click();
        await page.locator('#queue-name').fill('sales');
        await page.locator('#queue-address').fill('sales at example');
        await page.getByRole('button', { name: 'Create queue' }).click();
        await page.locator('#queue-address-error').waitFor();
        assert.equal(await page.locator('#queue-name').inputValue(), 'sales');
        await page.locator('#queue-address').fill('sales@example.com');
        await page.getByRole('button', { name: 'Create queue' }).click();
        await page.getByText('Created sales.').waitFor();
        q = await apiAs(page, 'GET', '/queues');
        await uniqueIds(page);
        assert.ok(q.json.items.some((x) => x.name === 'sales' && x.address === 'sales@example.com'));
    });

    test('a canned response for one queue', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Canned responses' }).click();
        await page.locator('#canned-title').fill('Printer reset');
        await page.locator('#canned-queue_id').selectOption({ label: 'support' });
        await page.locator('#canned-body').fill('Hold the power button for ten seconds.\nThen try again.');
        await page.getByRole('button', { name: 'Create canned response' }).click();
        await page.getByText('Created Printer reset.').waitFor();
        const c = await apiAs(page, 'GET', '/canned-responses');
        const row = c.json.items.find((x) => x.title === 'Printer reset');
        assert.equal(row.body, 'Hold the power button for ten seconds.\nThen try again.');
        assert.ok(row.queue_id > 0);
        await uniqueIds(page);
    });

    test('a macro: created, a refused action marked next to it with the text kept, edited, deleted', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Macros' }).click();
        await page.getByRole('heading', { name: 'Macros', level: 1 }).waitFor();
        await page.locator('#macro-title').fill('Printer solved');
        await page.locator('#macro-queue_id').selectOption({ label: 'support' });
        await page.locator('#macro-body').fill('Hello {{customer.name}},\nthe printer works again — ünïcode kept.');
        await page.locator('#macro-act_status').selectOption('solved');
        await page.locator('#macro-act_assignee').selectOption({ label: 'Whoever applies it' });
        await page.getByRole('button', { name: 'Create macro' }).click();
        await page.getByText('Created Printer solved.').waitFor();
        let m = (await apiAs(page, 'GET', '/macros')).json.items.find((x) => x.title === 'Printer solved');
        assert.ok(m, 'the macro exists');
        assert.equal(m.body, 'Hello {{customer.name}},\nthe printer works again — ünïcode kept.');
        assert.equal(m.visibility, 'public');
        assert.ok(m.queue_id > 0);
        assert.deepEqual(m.actions, { status: 'solved', assignee_id: 'me' });
        await page.locator('#macro-list tbody tr', { hasText: 'status → solved, assignee → whoever applies it' }).waitFor();
        await uniqueIds(page);

        // a second one the API refuses: a category set to nothing is marked
        // on the category field, and everything typed stays
        await page.getByRole('button', { name: 'New macro' }).click();
        await page.locator('#macro-title').fill('Escalate to billing');
        await page.locator('#macro-visibility').selectOption('internal');
        await page.locator('#macro-body').fill('Escalated: {{ticket.subject}}');
        await page.locator('#macro-act_priority').selectOption('urgent');
        await page.locator('#macro-act_category_mode').selectOption('set');
        await page.locator('#macro-act_category').fill('   ');
        await page.getByRole('button', { name: 'Create macro' }).click();
        const err = page.locator('#macro-act_category-error');
        await err.waitFor();
        assert.match(await err.textContent(), /Category must be a text of 1 to 100 bytes/);
        assert.equal(await page.locator('#macro-act_category').getAttribute('aria-invalid'), 'true');
        assert.equal(await page.evaluate(() => document.activeElement.id), 'macro-act_category', 'the focus goes to the field');
        assert.equal(await page.locator('#macro-title').inputValue(), 'Escalate to billing');
        assert.equal(await page.locator('#macro-visibility').inputValue(), 'internal');
        assert.equal(await page.locator('#macro-body').inputValue(), 'Escalated: {{ticket.subject}}');
        assert.equal(await page.locator('#macro-act_priority').inputValue(), 'urgent');
        assert.equal(await page.locator('#macro-act_category').inputValue(), '   ');
        await page.screenshot({ path: path.join(SHOTS, 'admin-macro-error.png') });
        assert.ok(!(await apiAs(page, 'GET', '/macros')).json.items.some((x) => x.title === 'Escalate to billing'), 'nothing saved');
        // a title taken is marked on the title
        await page.locator('#macro-act_category').fill('billing');
        await page.locator('#macro-title').fill('Printer solved');
        await page.getByRole('button', { name: 'Create macro' }).click();
        await page.locator('#macro-title-error').waitFor();
        assert.equal(await page.locator('#macro-act_category').inputValue(), 'billing');
        await page.locator('#macro-title').fill('Escalate to billing');
        await page.getByRole('button', { name: 'Create macro' }).click();
        await page.getByText('Created Escalate to billing.').waitFor();
        m = (await apiAs(page, 'GET', '/macros')).json.items.find((x) => x.title === 'Escalate to billing');
        assert.equal(m.visibility, 'internal');
        assert.equal(m.queue_id, null);
        assert.deepEqual(m.actions, { priority: 'urgent', category: 'billing' });

        // edited: the category cleared instead, the priority left alone, a new title
        await page.locator('#macro-title').fill('Escalate (any queue)');
        await page.locator('#macro-act_category_mode').selectOption('clear');
        await page.locator('#macro-act_priority').selectOption('');
        await page.locator('#macro-act_status').selectOption('pending');
        await page.getByRole('button', { name: 'Save', exact: true }).click();
        await page.getByText('Saved Escalate (any queue).').waitFor();
        m = (await apiAs(page, 'GET', `/macros/${m.id}`)).json;
        assert.equal(m.title, 'Escalate (any queue)');
        assert.equal(m.body, 'Escalated: {{ticket.subject}}');
        assert.deepEqual(m.actions, { status: 'pending', category: null });
        // reopened from the list, the form shows what the macro does
        await page.getByRole('button', { name: 'Edit Printer solved' }).click();
        assert.equal(await page.locator('#macro-act_assignee').inputValue(), 'me');
        await page.getByRole('button', { name: 'Edit Escalate (any queue)' }).click();
        assert.equal(await page.locator('#macro-act_category_mode').inputValue(), 'clear');
        assert.equal(await page.locator('#macro-act_status').inputValue(), 'pending');
        await page.screenshot({ path: path.join(SHOTS, 'admin-macros.png') });

        // deleted, after the confirmation
        page.once('dialog', (d) => d.accept());
        await page.getByRole('button', { name: 'Delete', exact: true }).click();
        await page.getByText('Deleted Escalate (any queue).').waitFor();
        assert.equal((await apiAs(page, 'GET', `/macros/${m.id}`)).status, 404);
        assert.equal(await page.getByRole('button', { name: 'Edit Escalate (any queue)' }).count(), 0);
        await page.getByRole('button', { name: 'Edit Printer solved' }).waitFor();
    });

    test('a webhook: its secret shown once, a bad URL marked', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Webhooks' }).click();
        await page.locator('#webhook-url').fill('ftp://hooks.example/x');
        await page.locator('#webhook-events').fill('ticket.created, message.added');
        await page.getByRole('button', { name: 'Create webhook' }).click();
        await page.locator('#webhook-url-error').waitFor();
        assert.equal(await page.locator('#webhook-events').inputValue(), 'ticket.created, message.added');
        await page.locator('#webhook-url').fill('https://hooks.example/atum');
        await page.getByRole('button', { name: 'Create webhook' }).click();
        await page.getByText('Created https://hooks.example/atum.').waitFor();
        assert.ok((await page.locator('#webhook-secret').textContent()).length >= 16, 'the secret is shown');
        await page.getByRole('heading', { name: 'Latest deliveries' }).waitFor();
        const w = await apiAs(page, 'GET', '/webhooks');
        assert.deepEqual(w.json.items[0].events, ['ticket.created', 'message.added']);
        await uniqueIds(page);
    });

    test('an API token: a wrong password is marked next to it, the right one shows the token once', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'API tokens' }).click();
        await page.locator('#token-name').fill('billing sync');
        await page.locator('#token-password').fill('not my password');
        await page.getByRole('button', { name: 'Create token' }).click();
        await page.locator('#token-password-error').waitFor();
        assert.equal(await page.locator('#token-name').inputValue(), 'billing sync');
        await page.locator('#token-password').fill(PW);
        await page.getByRole('button', { name: 'Create token' }).click();
        const secret = await page.locator('#token-secret').textContent();
        assert.match(secret, /^atum_/);
        await page.locator('#tokens-list').getByText('billing sync').waitFor();
        const r = await fetch(`${URL_}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${secret}` } });
        assert.equal((await r.json()).user.email, 'admin@example.com');
        page.once('dialog', (d) => d.accept());
        await page.getByRole('button', { name: 'Revoke billing sync' }).click();
        await page.getByText('Token billing sync is revoked.').waitFor();
        const r2 = await fetch(`${URL_}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${secret}` } });
        assert.equal(r2.status, 401);
    });

    test('a manager gets the pages a manager may use, and may give only the roles a manager may give', async () => {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const p = await watched(ctx);
        await signIn(p, 'manager@example.com');
        await p.getByRole('heading', { name: 'Users and roles', level: 1 }).waitFor();
        const links = await p.getByRole('navigation', { name: 'Admin pages' }).getByRole('link').allTextContents();
        assert.deepEqual(links, ['Users and roles', 'Organisations', 'Queues and members', 'Outbox', 'Templates',
                                 'Canned responses', 'Macros', 'API tokens']);
        assert.deepEqual(await p.locator('#user-role option').allTextContents(), ['customer', 'agent']);
        // templates: read and preview, no saving
        await p.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Templates' }).click();
        await p.getByRole('button', { name: 'Edit template ack' }).click();
        await p.locator('#template-preview-subject').waitFor();
        assert.equal(await p.locator('#template-subject').isDisabled(), true);
        assert.equal(await p.getByRole('button', { name: 'Save', exact: true }).count(), 0);
        await p.goto(`${URL_}/admin/mailboxes`);
        await p.getByRole('heading', { name: 'Not found' }).waitFor();
        assert.deepEqual(p.foreign, []);
        await ctx.close();
    });

    test('plugins: state, version and ABI; disabled and enabled again', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Plugins' }).click();
        const row = page.locator('#plugins-list tbody tr', { hasText: 'metrics' });
        await row.waitFor();
        assert.match(await row.textContent(), /loaded/);
        const host = (await apiAs(page, 'GET', '/plugins')).json;
        const abi = String(host.items.find((p) => p.name === 'metrics').abi);
        assert.equal((await row.locator('td').nth(2).textContent()).trim(), abi);
        // its settings as the plugin reads them, where each comes from
        const settings = host.items.find((p) => p.name === 'metrics').settings || [];
        assert.ok(settings.length > 0, 'the API lists the settings');
        for (const x of settings)
            assert.ok((await row.locator('dt').allTextContents()).includes(x.key), `setting ${x.key} is shown`);
        assert.ok((await row.textContent()).includes('(default)') || (await row.textContent()).includes('(file)'));
        await page.getByRole('button', { name: 'Disable metrics' }).click();
        await page.getByText(/^metrics: disabled/).waitFor();
        assert.equal((await apiAs(page, 'GET', '/plugins')).json.items.find((p) => p.name === 'metrics').state, 'disabled');
        await page.getByRole('button', { name: 'Enable metrics' }).click();
        await page.getByText(/^metrics: loaded/).waitFor();
        assert.equal((await apiAs(page, 'GET', '/plugins')).json.items.find((p) => p.name === 'metrics').state, 'loaded');
        await uniqueIds(page);
    });

    test("the admin resets a manager's two-factor sign-in", async () => {
        // the manager enrols (through the API, as the desk's account page does)
        const ctx = await browser.newContext();
        const p = await watched(ctx);
        await signIn(p, 'manager@example.com');
        await p.getByRole('heading', { name: 'Users and roles', level: 1 }).waitFor();
        const enrol = await apiAs(p, 'POST', '/auth/totp', {});
        assert.equal(enrol.status, 201);
        const v = await apiAs(p, 'POST', '/auth/totp/verify', { code: totp(enrol.json.secret, totpStep(enrol.json.period || 30), enrol.json.digits || 6) });
        assert.equal(v.status, 200, JSON.stringify(v.json));
        assert.equal((await login('manager@example.com')).json.totp_required, true, 'a code is asked for now');
        // the admin resets it
        await page.goto(`${URL_}/admin/users`);
        await page.getByRole('button', { name: 'Edit manager@example.com' }).click();
        await page.getByRole('button', { name: 'Reset two-factor sign-in' }).click();
        await page.getByText('Two-factor sign-in of manager@example.com is off').waitFor();
        assert.equal((await apiAs(p, 'GET', '/auth/me')).status, 401, "the manager's session ended");
        // the manager's open page says so at its next request, and offers to sign in
        await p.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Organisations' }).click();
        await p.getByText('Your session has ended. Please sign in again.').waitFor();
        await p.getByRole('heading', { name: 'Sign in' }).waitFor();
        const again = await login('manager@example.com');
        assert.equal(again.status, 200);
        assert.ok(!again.json.totp_required, 'the password alone signs in again');
        // no such button for one's own account
        await page.getByRole('button', { name: 'Edit admin@example.com' }).click();
        assert.equal(await page.getByRole('button', { name: 'Reset two-factor sign-in' }).count(), 0);
        await ctx.close();
    });

    test('the outbox lists the invitation as sent and no failed mail', async () => {
        await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Outbox' }).click();
        await page.getByText('No failed mail.').waitFor();
        await page.locator('#outbox-state').selectOption('');
        const row = page.locator('#outbox-list tbody tr', { hasText: 'cora@customer.example' });
        await row.waitFor();
        assert.match(await row.textContent(), /invite/);
        assert.match(await row.locator('td').nth(2).textContent(), /sent|unconfirmed/);
        await uniqueIds(page);
    });

    test('failed mail in the outbox, retried once the smarthost takes it', async () => {
        writeFileSync(SINK_CONTROL, JSON.stringify({ rcpt: { 'dora@customer.example': '550 5.1.1 no such mailbox here' } }));
        const u = await apiAs(page, 'POST', '/users', { email: 'dora@customer.example', name: 'Dora', role: 'customer' });
        assert.equal(u.status, 201);
        assert.equal((await apiAs(page, 'POST', `/users/${u.json.id}/invite`)).status, 202);
        const failed = await until('the invitation to fail', async () => {
            const r = await apiAs(page, 'GET', '/outbox?state=problem');
            return r.json.items.find((m) => JSON.stringify(m.recipients).includes('dora@customer.example'));
        });
        await page.goto(`${URL_}/admin/outbox`);
        const row = page.locator('#outbox-list tbody tr', { hasText: 'dora@customer.example' });
        await row.waitFor();
        assert.match(await row.textContent(), /550/);
        await page.screenshot({ path: path.join(SHOTS, 'admin-outbox.png') });
        writeFileSync(SINK_CONTROL, '{}');
        await page.getByRole('button', { name: `Retry mail ${failed.id}` }).click();
        await page.getByText(new RegExp(`^Mail ${failed.id} is queued to be sent again`)).waitFor();
        await until('the retried invitation at the smarthost', () => mailsTo('dora@customer.example') === 1);
        await until('the mail to leave the failed list', async () => {
            const r = await apiAs(page, 'GET', '/outbox?state=problem');
            return !r.json.items.some((m) => m.id === failed.id);
        });
    });

    test('at 360 px the pages fold into one column and the page never scrolls sideways', async () => {
        const ctx = await browser.newContext({ viewport: { width: 360, height: 740 } });
        const p = await watched(ctx);
        await signIn(p, 'admin@example.com');
        await p.getByRole('heading', { name: 'Users and roles', level: 1 }).waitFor();
        for (const where of ['users', 'mailboxes', 'audit', 'jobs', 'templates']) {
            await p.goto(`${URL_}/admin/${where}`);
            await p.locator('main h1').waitFor();
            await p.waitForLoadState('networkidle');
            const [scroll, client] = await p.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
            assert.ok(scroll <= client, `/admin/${where} is ${scroll} px wide in ${client}`);
            if (where === 'users')
                await p.screenshot({ path: path.join(SHOTS, 'admin-users-360.png'), fullPage: true });
        }
        assert.deepEqual(p.foreign, []);
        await ctx.close();
    });

    test('no page error, no CSP violation, nothing from another origin', () => {
        assert.deepEqual(problems, []);
        assert.deepEqual(page.foreign, []);
    });
});
