/*
 * console-browser.js CASE_JSON: drives the web console in Debian's
 * chromium through playwright-core for t/console.t, as a person would:
 * token, live list, recordings, player, joining a session, tasks,
 * delete, phone width.
 *
 * CASE_JSON: { url, token, live: "APP/STREAM" being pushed, stream: a
 * finished stream of two parts in one session, mp4, hls, delete: file ids
 * of its first part, task_stream, screens: directory for screenshots,
 * chromium, tools: where node_modules is, out: the answer's file }.
 *
 * Writes one JSON object to CASE_JSON's out: { steps: { NAME: { ok,
 * error?, ... } }, external: [URLs not on the console's server],
 * page_errors: [...], screenshots: [...] }.  A step runs unless a step it
 * needs failed, so that one break neither hides the rest nor makes them
 * wait out their timeouts; t/console.t judges them.
 */

'use strict';

const fs = require('fs');
const path = require('path');

const c = JSON.parse(process.argv[2]);
const { chromium } = require(path.join(c.tools, 'node_modules',
                                       'playwright-core'));

const out = { steps: {}, external: [], page_errors: [], console: [],
              screenshots: [] };
const origin = new URL(c.url).origin;
const WAIT = 20000;

/* runs a step unless one it needs failed; the answer so far is written
   after each, so that a run killed by t/console.t still reports */
async function step(name, needs, fn) {
    const s = out.steps[name] = { ok: false };
    const failed = needs.filter((n) => !out.steps[n].ok);
    if (failed.length) {
        s.error = 'not run: ' + failed.join(', ') + ' failed';
    } else {
        try {
            Object.assign(s, await fn() || {});
            s.ok = true;
        } catch (e) {
            s.error = String(e && e.message || e).split('\n')[0];
        }
    }
    fs.writeFileSync(c.out, JSON.stringify(out) + '\n');
}

async function shot(page, name) {
    const file = path.join(c.screens, name);
    await page.screenshot({ path: file });
    out.screenshots.push(file);
}

async function video(page) {
    return page.evaluate(function () {
        const v = document.querySelector('#video');
        return { time: v.currentTime,
                 error: v.error ? v.error.code + ' ' + v.error.message : null,
                 status: document.querySelector('#status').textContent };
    });
}

/* a file's row, its broadcast opened first if the row is hidden */
async function reveal(page, id) {
    const row = page.locator(`tr[data-file-id="${id}"]`);
    await row.waitFor({ state: 'attached' });
    if (await row.isHidden()) {
        const key = await row.getAttribute('data-group');
        await page.locator(`tr.group[data-group="${key}"] button.toggle`)
                  .click();
        await row.waitFor();
    }
    return row;
}

async function play(page, id) {
    await reveal(page, id);
    await page.locator(`tr[data-file-id="${id}"] button`,
                       { hasText: 'Play' }).click();
    try {
        await page.waitForFunction(function () {
            const v = document.querySelector('#video');
            return v.error || v.currentTime > 1;
        }, null, { timeout: WAIT });
    } catch (e) {
        const v = await video(page);
        throw new Error('currentTime ' + v.time + ', error ' + v.error
                        + ', status "' + v.status + '"');
    }
    const v = await video(page);
    if (v.error) {
        throw new Error('media error ' + v.error + ': ' + v.status);
    }
    return v;
}

/* unix seconds as the time inputs take them: 24-hour, local time */
async function localInput(page, t) {
    return page.evaluate(function (t) {
        const d = new Date(t * 1000);
        const p = (n) => String(n).padStart(2, '0');
        return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-'
               + p(d.getDate()) + ' ' + p(d.getHours()) + ':'
               + p(d.getMinutes()) + ':' + p(d.getSeconds());
    }, t);
}

/* a row's cells by their data-label */
async function cells(row) {
    return row.locator('td[data-label]').evaluateAll((tds) =>
        Object.fromEntries(tds.map((td) => [td.dataset.label,
                                            td.textContent])));
}

async function noOverflow(page) {
    const w = await page.evaluate(() => [
        document.documentElement.scrollWidth, window.innerWidth]);
    if (w[0] > w[1]) {
        throw new Error('page is ' + w[0] + ' px wide in ' + w[1]);
    }
    return { width: w[0] };
}

async function main() {
    const browser = await chromium.launch({
        executablePath: c.chromium,
        headless: true,
        args: ['--no-sandbox', '--disable-background-networking',
               '--disable-dev-shm-usage', '--mute-audio']
    });
    /* en-US: where <input type=datetime-local> shows a 12-hour clock */
    const ctx = await browser.newContext({ viewport: { width: 1280,
                                                       height: 800 },
                                           locale: 'en-US',
                                           timezoneId: c.timezone });
    const page = await ctx.newPage();
    page.setDefaultTimeout(WAIT);

    page.on('request', function (r) {
        const u = r.url();
        if (!u.startsWith(origin + '/') && !/^(data|blob):/.test(u)) {
            out.external.push(u);
        }
    });
    page.on('pageerror', (e) => out.page_errors.push(String(e)));
    page.on('console', function (m) {
        if (m.type() === 'error') {
            out.console.push(m.text());
        }
    });

    await step('page', [], async function () {
        await page.goto(c.url);
        await page.locator('#login input').waitFor();
        return { title: await page.title() };
    });

    await step('wrong_token', ['page'], async function () {
        await page.fill('#login input', 'not-' + c.token);
        await page.click('#login button');
        await page.locator('#status.error').waitFor();
        if (await page.locator('#tabs').isVisible()) {
            throw new Error('tabs shown after a wrong token');
        }
        return { status: await page.textContent('#status') };
    });

    await step('login', ['page'], async function () {
        await page.fill('#login input', c.token);
        await page.click('#login button');
        await page.locator('#tabs').waitFor();
        return { stored: await page.evaluate(
                     () => sessionStorage.getItem('live_record_token')) };
    });

    await step('reload', ['login'], async function () {
        await page.reload();
        await page.locator('#tabs').waitFor();
        if (await page.locator('#login').isVisible()) {
            throw new Error('asked for the token again');
        }
    });

    await step('live', ['login'], async function () {
        await page.click('#tabs button[data-tab="live"]');
        const row = page.locator(`#live-table tr[data-stream="${c.live}"]`);
        await row.waitFor();
        const cells = await row.locator('td').allTextContents();
        await shot(page, 'console-live-1280.png');
        return { formats: cells[1], part: cells[2], duration: cells[3],
                 size: cells[4], plan: cells[5] };
    });

    await step('files', ['login'], async function () {
        await page.click('#tabs button[data-tab="files"]');
        await page.fill('#files-form input[name="stream"]', c.stream);
        await page.click('#files-form button[type="submit"]');
        await page.locator(`tr[data-file-id="${c.mp4}"]`)
                  .waitFor({ state: 'attached' });
        const names = await page.locator('#files-table tbody tr '
                                         + 'td:first-child > span')
                                .evaluateAll((s) => s.map(
                                    (x) => x.firstChild.textContent));
        const other = names.filter((n) => n !== 'live/' + c.stream);
        if (other.length) {
            throw new Error('search for ' + c.stream + ' shows ' + other);
        }
        return { rows: names.length };
    });

    /* one row for the broadcast, its files under it, closed */
    await step('grouped', ['files'], async function () {
        const group = page.locator('#files-table tr.group');
        const files = page.locator('#files-table tr.file');
        const out = { groups: await group.count(),
                      head: await cells(group.first()),
                      toggle: await group.first().locator('button.toggle')
                                         .textContent(),
                      summary: await page.textContent('#files-summary'),
                      files: await files.count(),
                      hidden_before: await files.evaluateAll(
                          (r) => r.filter((x) => x.hidden).length) };
        await group.first().locator('button.toggle').click();
        out.visible_after = await files.evaluateAll(
            (r) => r.filter((x) => !x.hidden).length);
        out.expanded = await group.first().locator('button.toggle')
                                  .getAttribute('aria-expanded');
        out.starts = await files.evaluateAll((r) => r.map((x) =>
            [x.dataset.fileId,
             x.querySelector('td[data-label="Start"]').textContent]));
        const hls = page.locator(`tr[data-file-id="${c.hls}"] a.download`);
        out.hls_link = { text: await hls.textContent(),
                         href: await hls.getAttribute('href'),
                         download: await hls.getAttribute('download'),
                         title: await hls.getAttribute('title') };
        await shot(page, 'console-grouped-1280.png');
        await group.first().locator('button.toggle').click();
        out.hidden_again = await files.evaluateAll(
            (r) => r.filter((x) => x.hidden).length);
        return out;
    });

    /* the case's URL asks for 4 a page: six files are two pages */
    /* the case's URL asks for 4 files a page: the session's six are
       listed whole on the page of its newest file, the next page says
       where they are */
    await step('paging', ['files'], async function () {
        const ids = () => page.locator('#files-table tbody tr')
                              .evaluateAll((rows) => rows.map(
                                  (r) => r.dataset.fileId || r.dataset.group));
        const first = await ids();
        await page.click('#files-older');
        await page.locator('#files .empty').waitFor();
        const second = await ids();
        const note = await page.textContent('#files .empty');
        const more = !(await page.locator('#files-older').isDisabled());
        await page.click('#files-newer');
        await page.locator('#files-page', { hasText: 'page 1' }).waitFor();
        await page.locator(`tr[data-file-id="${c.mp4}"]`)
                  .waitFor({ state: 'attached' });
        const again = await ids();
        return { first: first.length, second: second.length, more, note,
                 same: JSON.stringify(first) === JSON.stringify(again) };
    });

    await step('window', ['files'], async function () {
        const now = Math.floor(Date.now() / 1000);
        const from = '#files-form input[name="from"]';
        await page.fill(from, await localInput(page, now + 3600));
        await page.click('#files-form button[type="submit"]');
        await page.locator('#files .empty').waitFor();
        await page.fill(from, await localInput(page, now - 3600));
        await page.fill('#files-form input[name="to"]',
                        await localInput(page, now + 3600));
        await page.click('#files-form button[type="submit"]');
        await page.locator(`tr[data-file-id="${c.mp4}"]`)
                  .waitFor({ state: 'attached' });
    });

    await step('play_mp4', ['files'], () => play(page, c.mp4));

    /* the browser's own HLS where it has it (chromium does) */
    await step('play_hls', ['files'], async function () {
        const v = await play(page, c.hls);
        v.native = await page.evaluate(() => document.querySelector('#video')
            .canPlayType('application/vnd.apple.mpegurl'));
        v.src = await page.evaluate(
            () => document.querySelector('#video').currentSrc);
        return v;
    });

    /* hls.js from the console's server where it has not (Firefox) */
    await step('play_hls_js', ['files'], async function () {
        await page.evaluate(function () {
            const can = HTMLMediaElement.prototype.canPlayType;
            HTMLMediaElement.prototype.canPlayType = function (type) {
                return /mpegurl/i.test(type) ? '' : can.call(this, type);
            };
        });
        const v = await play(page, c.hls);
        v.hls_js = await page.evaluate(() => window.Hls && window.Hls.version);
        v.src = await page.evaluate(
            () => document.querySelector('#video').currentSrc);
        await shot(page, 'console-1280.png');
        return v;
    });

    await step('concat', ['files'], async function () {
        const key = await page.locator(`tr[data-file-id="${c.mp4}"]`)
                              .getAttribute('data-group');
        await page.locator(`tr.group[data-group="${key}"] button`,
                           { hasText: 'Join session (mp4)' }).click();
        await page.locator('#status', { hasText: /joined|failed/ })
                  .waitFor({ timeout: 90000 });
        const text = await page.textContent('#status');
        const m = /joined into (\S+?)\.$/.exec(text);
        if (!m) {
            throw new Error('status: ' + text);
        }
        return { file_id: m[1] };
    });

    await step('task_create', ['login'], async function () {
        await page.click('#tabs button[data-tab="tasks"]');
        const end = page.locator('#task-form input[name="end"]');
        await page.waitForFunction(() => document.querySelector(
            '#task-form input[name="end"]').value !== '');
        const form = { type: await end.getAttribute('type'),
                       default_end: await end.inputValue(),
                       label: await page.locator('#task-form label',
                                                 { hasText: 'End' })
                                        .textContent() };
        await end.fill(c.task_end);
        await page.fill('#task-form input[name="stream"]', c.task_stream);
        await page.click('#task-form button[type="submit"]');
        await page.locator('#status', { hasText: 'Created task' }).waitFor();
        const text = await page.textContent('#status');
        const m = /Created task (\S+) /.exec(text);
        if (!m) {
            throw new Error('status: ' + text);
        }
        const row = page.locator(`tr[data-task-id="${m[1]}"]`);
        await row.waitFor();
        return Object.assign(form, { task_id: m[1],
                                     cells: await cells(row) });
    });

    await step('task_stop', ['task_create'], async function () {
        const id = out.steps.task_create.task_id;
        const row = page.locator(`tr[data-task-id="${id}"]`);
        await row.locator('button', { hasText: 'Stop' }).click();
        await row.locator('td[data-label="State"]',
                          { hasText: 'stopped' }).waitFor();
        await shot(page, 'console-tasks-1280.png');
    });

    await step('delete', ['files'], async function () {
        await page.click('#tabs button[data-tab="files"]');
        const row = await reveal(page, c.delete);
        let dialog = null;
        page.once('dialog', function (d) {
            dialog = d.message();
            d.accept();
        });
        await row.locator('button', { hasText: 'Delete' }).click();
        await page.locator('#status', { hasText: 'Deleted' }).waitFor();
        await row.waitFor({ state: 'detached' });
        return { dialog };
    });

    /* cards, not tables, and nothing wider than the screen */
    await step('phone', ['task_create'], async function () {
        const wide = await noOverflow(page);
        await page.setViewportSize({ width: 390, height: 844 });
        const tabs = out.steps.files.ok ? ['tasks', 'files'] : ['tasks'];
        for (const tab of tabs) {
            await page.click(`#tabs button[data-tab="${tab}"]`);
            await page.locator(`#${tab} tbody tr`).first().waitFor();

            /* the lists refresh: ask about whichever row is there now */
            const display = () => page.evaluate(function (tab) {
                const tr = document.querySelector(`#${tab} tbody tr`);
                return tr ? getComputedStyle(tr).display : 'no row';
            }, tab);
            try {
                await page.waitForFunction(function (tab) {
                    const tr = document.querySelector(`#${tab} tbody tr`);
                    return tr && getComputedStyle(tr).display === 'block';
                }, tab, { timeout: 5000 });
            } catch (e) {
                throw new Error(tab + ': rows are not cards: display '
                                + await display());
            }
            await noOverflow(page);
        }
        await shot(page, 'console-390.png');
        return { wide: wide.width, tabs };
    });

    await browser.close();
}

main().catch(function (e) {
    out.fatal = String(e && e.stack || e);
}).finally(function () {
    fs.writeFileSync(c.out, JSON.stringify(out) + '\n');
    process.exit(0);
});
