// The dashboard in a real browser against a real serve: log in, add a rule through the form, see a
// validation error, watch a forced attempt arrive live, open the message, delete the rule.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import type { Browser, Page } from 'playwright-core';
import { SERVE_DEFAULTS } from '../../src/cli/options.js';
import { type Served, serve } from '../../src/cli/serve.js';
import { launchChromium, screenshot } from '../helpers/browser.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-dashboard-'));
const token = 'dashboard-test-token';
let served: Served;
let browser: Browser;
let page: Page;
const external: string[] = [];

before(async () => {
  served = await serve({ ...SERVE_DEFAULTS, host: '127.0.0.1', smtpPort: 0, httpPort: 0, rules: join(dir, 'rules.json'), token });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  // Anything but this server is an external resource the page must not load.
  page.on('request', (req) => { if (!req.url().startsWith(`http://127.0.0.1:${served.http.port}/`)) external.push(req.url()); });
});
after(async () => {
  await browser?.close();
  await served?.close();
  rmSync(dir, { recursive: true, force: true });
});

const home = () => `http://127.0.0.1:${served.http.port}/`;
const send = (to: string, subject: string) => nodemailer.createTransport({ host: '127.0.0.1', port: served.smtp.port, secure: false, ignoreTLS: true })
  .sendMail({ from: 'app@example.com', to, subject, text: `body of ${subject}` }).then(() => 'sent', (e: { response?: string }) => e.response);

describe('dashboard in chromium', () => {
  it('refuses a wrong token, then logs in with the right one', async () => {
    await page.goto(home());
    await page.fill('#token', 'wrong');
    await page.click('#login button');
    await page.waitForSelector('#login-error:has-text("refused")');
    await page.fill('#token', token);
    await page.click('#login button');
    await page.waitForSelector('#rules:not([hidden])');
  });

  it('adds a rule through the form and shows the API\'s validation errors next to their fields', async () => {
    await page.fill('#add [name=pool]', 'shared');
    await page.fill('#add [name=mta]', '1.2.3.4');
    await page.fill('#add [name=code]', '421');
    await page.click('#add button');
    const error = page.locator('#add [data-error-for=mta]');
    await error.waitFor();
    await page.waitForFunction(`document.querySelector('#add [data-error-for=mta]').textContent !== ''`); // runs in the page
    assert.match(await error.textContent() ?? '', /pool and mta may not be used together/);
    assert.equal(await page.getAttribute('#add [name=mta]', 'aria-invalid'), 'true');
    await screenshot(page, 'dashboard-rules-error');
    await page.fill('#add [name=pool]', '');
    await page.fill('#add [name=mta]', '');
    await page.fill('#add [name=domain]', 'gmail.com');
    await page.fill('#add [name=extended]', '4.7.0');
    await page.fill('#add [name=description]', 'try again later');
    await page.click('#add button');
    await page.waitForSelector('#rule-rows tr:has-text("domain=gmail.com")');
    assert.equal(await page.textContent('#add [data-error-for=mta]'), '', 'errors cleared');
    assert.match(await page.textContent('#rule-rows') ?? '', /421 4\.7\.0 try again later/);
    await screenshot(page, 'dashboard-rules');
  });

  it('shows a forced attempt live, coloured by outcome, and a rule\'s evidence', async () => {
    await page.click('nav [data-tab=attempts]');
    await page.waitForSelector('#live-state:has-text("live")');
    assert.equal(await send('bob@gmail.com', 'deferred one'), '421 4.7.0 try again later');
    const forced = page.locator('#attempt-rows tr[data-outcome=deferred]');
    await forced.first().waitFor();
    assert.match(await forced.first().textContent() ?? '', /rcptno.*bob@gmail\.com.*421 4\.7\.0 try again later/);
    assert.equal(await page.evaluate<string>(`getComputedStyle(document.querySelector('#attempt-rows tr[data-outcome=deferred]')).backgroundColor`), 'rgb(255, 244, 214)');
    assert.equal(await send('carol@example.org', 'hello carol'), 'sent');
    await page.locator('#attempt-rows tr[data-outcome=passed]').first().waitFor();
    await screenshot(page, 'dashboard-attempts');

    await page.click('#pause');
    await send('dave@example.org', 'while paused');
    await page.waitForSelector('#live-state:has-text("held")');
    assert.equal(await page.locator('#attempt-rows tr:has-text("dave@example.org")').count(), 0, 'paused: not shown');
    await page.click('#pause');
    await page.locator('#attempt-rows tr:has-text("dave@example.org")').first().waitFor();

    await page.click('nav [data-tab=rules]');
    await page.click('#rule-rows [data-evidence]');
    await page.waitForSelector('#evidence:has-text("Attempts forced by rule")');
    const rows = await page.locator('#attempt-rows tr').allTextContents();
    assert.ok(rows.length === 1 && rows[0]!.includes('bob@gmail.com'), rows.join('\n'));
    await page.click('#evidence button');
    await page.click('#clear');
    assert.equal(await page.locator('#attempt-rows tr').count(), 0);
  });

  it('lists messages and opens one: envelope, headers and raw source', async () => {
    await page.click('nav [data-tab=messages]');
    await page.locator('#message-rows tr:has-text("hello carol")').click();
    await page.waitForSelector('#raw:has-text("body of hello carol")');
    const text = await page.textContent('#message') ?? '';
    assert.match(text, /MAIL FROM: app@example\.com/);
    assert.match(text, /RCPT TO: carol@example\.org/);
    assert.match(text, /subject\s*hello carol/);
    await screenshot(page, 'dashboard-messages');
  });

  it('deletes the rule through the API', async () => {
    await page.click('nav [data-tab=rules]');
    await page.click('#rule-rows [data-delete]');
    await page.waitForSelector('#rule-count:has-text("0 of 0 rules")');
    assert.equal(await send('bob@gmail.com', 'after delete'), 'sent');
  });

  it('takes the token from the address once and drops it from the address bar', async () => {
    const fresh = await browser.newPage();
    try {
      await fresh.goto(`${home()}#token=${token}`);
      await fresh.waitForSelector('#rules:not([hidden])');
      assert.equal(fresh.url(), home());
    } finally { await fresh.close(); }
    assert.deepEqual(external, [], 'no external resources');
  });
});
