/*
 * mp4-play.js CASE_JSON: plays recorded MP4s in Debian's chromium through
 * playwright-core, for t/mp4_play.t and t/mp4_reserve.t.
 *
 * CASE_JSON: { page: URL of an empty page on the server that serves the
 * files, files: [URL ...], chromium, tools: where node_modules is,
 * profile: a fresh directory for --user-data-dir, out: the answer's file,
 * past: seconds to play to (default 2.2), seek: seconds to seek to after
 * that (0: none) }.
 *
 * For each URL a <video muted> on the page plays it; answers, per URL,
 * { ok, error?, times: [currentTime samples while playing], width, height,
 * duration, seeked: currentTime after the seek and some play } in
 * { files: [...] }.  The test judges the numbers.
 */

'use strict';

const fs = require('fs');
const path = require('path');

const c = JSON.parse(process.argv[2]);
const { chromium } = require(path.join(c.tools, 'node_modules',
                                       'playwright-core'));
const WAIT = 20000;
const out = { files: [] };

function save() {
    fs.writeFileSync(c.out, JSON.stringify(out) + '\n');
}

async function state(page) {
    return page.evaluate(function () {
        const v = document.querySelector('video');
        return { time: v.currentTime, width: v.videoWidth,
                 height: v.videoHeight, duration: v.duration,
                 error: v.error ? v.error.code + ' ' + v.error.message
                                : null };
    });
}

async function until(page, cond, arg) {
    try {
        await page.waitForFunction(cond, arg, { timeout: WAIT });
    } catch (e) {
        const s = await state(page);
        throw new Error('timed out: currentTime ' + s.time + ', error '
                        + s.error);
    }
    const s = await state(page);
    if (s.error) {
        throw new Error('media error ' + s.error);
    }
    return s;
}

async function one(page, url) {
    const r = { url: url, ok: false, times: [] };
    out.files.push(r);
    try {
        await page.goto(c.page);
        await page.evaluate(function (u) {
            const v = document.createElement('video');
            v.muted = true;
            v.src = u;
            document.body.appendChild(v);
            v.play();
        }, url);
        const past = c.past || 2.2;
        for (const t of [0.3, 1, past]) {
            const s = await until(page, function (t) {
                const v = document.querySelector('video');
                return v.error || v.currentTime > t;
            }, t);
            r.times.push(s.time);
            Object.assign(r, { width: s.width, height: s.height,
                               duration: s.duration });
        }
        if (c.seek) {
            await page.evaluate(function (t) {
                document.querySelector('video').currentTime = t;
            }, c.seek);
            const s = await until(page, function (t) {
                const v = document.querySelector('video');
                return v.error || (!v.seeking && v.currentTime > t + 0.5);
            }, c.seek);
            r.seeked = s.time;
        }
        r.ok = true;
    } catch (e) {
        r.error = String(e && e.message || e).split('\n')[0];
    }
    save();
}

async function main() {
    const ctx = await chromium.launchPersistentContext(c.profile, {
        executablePath: c.chromium,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu',
               '--disable-quic', '--no-first-run',
               '--disable-background-networking',
               '--disable-component-update', '--disable-sync',
               '--disable-dev-shm-usage', '--mute-audio',
               '--autoplay-policy=no-user-gesture-required']
    });
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(WAIT);
    for (const url of c.files) {
        await one(page, url);
    }
    await ctx.close();
}

main().then(() => { save(); process.exit(0); },
            (e) => { out.fatal = String(e && e.stack || e); save();
                     process.exit(1); });
