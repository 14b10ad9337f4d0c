/*
 * live record console: live recordings, recordings, record tasks.
 *
 * Talks to the module's JSON API (its base comes from config.json, which
 * the live_record_console handler serves) with the token the user enters
 * once; the token stays in this tab's sessionStorage.  No framework, no
 * external URL: hls.js is served next to this file and loaded only when
 * an HLS recording is played in a browser without native HLS.
 *
 * ?limit=N in the page's URL sets how many recordings a page lists.
 */

'use strict';

(function () {

const TOKEN_KEY = 'live_record_token';
const PAGE_SIZE = Math.min(500, Math.max(1, parseInt(
    new URLSearchParams(location.search).get('limit'), 10) || 20));
const REFRESH_MS = 5000;

const S = {
    api: '/api/',
    tab: 'live',
    timer: null,
    hls: null,
    pages: [null],      /* cursors of the recordings pages seen so far */
    open: new Set(),    /* broadcasts whose files are shown */
    page: 0,
    next: null,
    query: null,
    seq: { live: 0, files: 0, tasks: 0 }    /* newest request of each */
};


/* DOM helpers */

function $(sel, root) {
    return (root || document).querySelector(sel);
}

function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === null || v === undefined || v === false) {
            continue;
        }
        if (k === 'on') {
            for (const [ev, fn] of Object.entries(v)) {
                e.addEventListener(ev, fn);
            }
        } else if (k === 'class') {
            e.className = v;
        } else if (k === 'data') {
            Object.assign(e.dataset, v);
        } else {
            e.setAttribute(k, v === true ? '' : v);
        }
    }
    for (const k of kids.flat()) {
        if (k !== null && k !== undefined && k !== false) {
            e.append(k instanceof Node ? k : String(k));
        }
    }
    return e;
}

/* a table cell labelled for the phone layout; sub: a second, muted line */
function td(label, main, sub, cls) {
    return el('td', { 'data-label': label, class: cls },
              el('span', null, main, sub ? el('span', { class: 'sub' }, sub)
                                         : null));
}

function button(text, fn, cls) {
    return el('button', { type: 'button', class: cls || 'quiet',
                          on: { click: fn } }, text);
}

function status(text, error) {
    const p = $('#status');
    p.textContent = text || '';
    p.classList.toggle('error', !!error);
}

function fill(table, rows) {
    const body = $('tbody', table);
    body.replaceChildren(...rows);
    table.hidden = rows.length === 0;
    table.nextElementSibling.hidden = rows.length !== 0;
}


/* formats */

function pad(n) {
    return String(n).padStart(2, '0');
}

/* this browser's offset from UTC at time t: "UTC", "UTC+01:00" */
function zone(t) {
    const off = -new Date(t * 1000).getTimezoneOffset();
    if (off === 0) {
        return 'UTC';
    }
    const a = Math.abs(off);
    return 'UTC' + (off > 0 ? '+' : '-') + pad(Math.floor(a / 60)) + ':'
           + pad(a % 60);
}

/* local time, 24-hour, without the zone (the inputs' format) */
function localTime(t) {
    const d = new Date(t * 1000);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-'
           + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':'
           + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
}

/* every time shown names its zone: the browser's, explicitly */
function fmtTime(t) {
    if (typeof t !== 'number' || !isFinite(t) || t <= 0) {
        return '—';
    }
    return localTime(t) + ' ' + zone(t);
}

function fmtDuration(s) {
    if (typeof s !== 'number' || !isFinite(s) || s < 0) {
        return '—';
    }
    s = Math.round(s);
    const h = Math.floor(s / 3600);
    const m = Math.floor(s / 60) % 60;
    return (h ? h + ':' + pad(m) : m) + ':' + pad(s % 60);
}

function fmtBytes(n) {
    if (typeof n !== 'number' || !isFinite(n) || n < 0) {
        return '—';
    }
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) {
        n /= 1000;
        i++;
    }
    return (i ? n.toFixed(n < 10 ? 1 : 0) : n) + ' ' + units[i];
}

/*
 * The time inputs are text, "YYYY-MM-DD HH:MM[:SS]" in 24-hour local
 * time: <input type=datetime-local> shows a 12-hour clock in en-US
 * browsers.  toUnix: NaN when the text is not such a time.
 */

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;

function toUnix(value) {
    value = (value || '').trim();
    if (!value) {
        return null;
    }
    const m = TIME_RE.exec(value);
    if (!m) {
        return NaN;
    }
    const d = new Date(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    if (d.getDate() !== +m[3] || d.getHours() !== +m[4]
        || +m[5] > 59 || +(m[6] || 0) > 59)
    {
        return NaN;
    }
    return Math.floor(d.getTime() / 1000);
}

function toLocalInput(t) {
    return localTime(t);
}

/* the zone next to each time input, as it is now */
function showZones() {
    const z = zone(Date.now() / 1000);
    for (const s of document.querySelectorAll('.tz')) {
        s.textContent = '(' + z + ')';
    }
}

/* a time input's value, or a message naming the field */
function timeField(input, what) {
    const t = toUnix(input.value);
    if (Number.isNaN(t)) {
        throw new Error(what + ': "' + input.value + '" is not a time like '
                        + localTime(Math.floor(Date.now() / 1000))
                        + ' (24-hour, ' + zone(Date.now() / 1000) + ')');
    }
    return t;
}


/* the API */

class ApiError extends Error {
    constructor(status, code, message) {
        super(message);
        this.status = status;
        this.code = code;
    }
}

function token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
}

function apiUrl(path) {
    return S.api.replace(/\/+$/, '') + '/' + path.replace(/^\/+/, '');
}

async function api(method, path, body) {
    const opts = { method,
                   headers: { Authorization: 'Bearer ' + token() },
                   cache: 'no-store' };
    if (body !== undefined) {
        opts.headers['Content-Type'] = 'application/json';
        opts.body = JSON.stringify(body);
    }

    let res, data = null;
    try {
        res = await fetch(apiUrl(path), opts);
        const text = await res.text();
        data = text ? JSON.parse(text) : {};
    } catch (e) {
        if (!res) {
            throw new ApiError(0, 'network',
                               'cannot reach the API: ' + e.message);
        }
    }

    if (!res.ok) {
        const err = new ApiError(res.status,
                                 (data && data.code) || 'http_' + res.status,
                                 (data && data.message)
                                 || res.status + ' ' + res.statusText);
        if (res.status === 401) {
            logout('Log in: ' + err.message + '.');
        } else if (res.status === 403) {
            logout('The server refused this token. Enter the token from '
                   + 'the file live_record_api_token_file names.');
        }
        throw err;
    }

    if (data === null) {
        throw new ApiError(res.status, 'bad_json',
                           'the API answered with no JSON');
    }
    return data;
}

function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
        if (v !== null && v !== undefined && v !== '') {
            q.set(k, v);
        }
    }
    const s = q.toString();
    return s ? '?' + s : '';
}

/* shows an API failure unless it already sent us back to the login */
function failed(what) {
    return function (e) {
        if (e.status !== 401 && e.status !== 403) {
            status(what + ': ' + e.message, true);
        }
        if (!(e instanceof ApiError)) {
            console.error(e);
        }
    };
}


/* login and tabs */

function logout(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    clearInterval(S.timer);
    closePlayer();
    for (const id of ['live', 'files', 'tasks']) {
        $('#' + id).hidden = true;
    }
    $('#tabs').hidden = true;
    $('#logout').hidden = true;
    $('#login').hidden = false;
    status(message || '', !!message);
    $('#login input').focus();
}

async function login(ev) {
    ev.preventDefault();
    const input = $('#login input');
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
        await api('GET', 'streams');
    } catch (e) {
        if (e.status !== 401 && e.status !== 403) {
            sessionStorage.removeItem(TOKEN_KEY);
            status('Log in: ' + e.message, true);
        }
        return;
    }
    input.value = '';
    status('');
    enter();
}

function enter() {
    $('#login').hidden = true;
    $('#tabs').hidden = false;
    $('#logout').hidden = false;
    const tab = location.hash.slice(1);
    show(['live', 'files', 'tasks'].includes(tab) ? tab : 'live');
}

function show(tab) {
    S.tab = tab;
    for (const b of document.querySelectorAll('#tabs button')) {
        b.setAttribute('aria-selected', b.dataset.tab === tab);
    }
    for (const id of ['live', 'files', 'tasks']) {
        $('#' + id).hidden = id !== tab;
    }
    if (location.hash !== '#' + tab) {
        history.replaceState(null, '', '#' + tab);
    }
    if (tab !== 'files') {
        closePlayer();
    }

    refresh();
    clearInterval(S.timer);
    if (tab !== 'files') {
        S.timer = setInterval(refresh, REFRESH_MS);
    }
}

function refresh() {
    if (!token()) {
        return;
    }
    if (S.tab === 'live') {
        loadLive();
    } else if (S.tab === 'files') {
        loadFiles();
    } else {
        loadTasks();
    }
}


/* live recordings */

function planText(plan) {
    if (!plan) {
        return ['—', null];
    }
    const bits = [];
    if (plan.template) {
        bits.push('template ' + plan.template);
    }
    if (plan.rule) {
        bits.push('rule ' + plan.rule);
    }
    if (Array.isArray(plan.tasks) && plan.tasks.length) {
        bits.push('tasks ' + plan.tasks.join(', '));
    }
    if (plan.settings_from) {
        bits.push('settings from ' + plan.settings_from);
    } else if (plan.settings_task) {
        bits.push('settings of task ' + plan.settings_task);
    } else if (plan.settings_template) {
        bits.push('settings of template ' + plan.settings_template);
    }
    return [plan.why || bits.shift() || '—', bits.join(' · ') || null];
}

async function loadLive() {
    const seq = ++S.seq.live;
    let data;
    try {
        data = await api('GET', 'streams');
    } catch (e) {
        return failed('Live recordings')(e);
    }
    if (seq !== S.seq.live) {
        return;     /* a newer request is on its way */
    }

    const rows = (data.streams || []).map(function (s) {
        const name = (s.app || '?') + '/' + (s.stream || s.stream_id || '?');
        const [why, how] = planText(s.plan);
        const since = s.publish_time ? 'since ' + fmtTime(s.publish_time)
                                     : null;
        return el('tr', { data: { stream: name } },
            td('Stream', name,
               [s.domain, since].filter(Boolean).join(' · ') || null),
            td('Formats', (s.formats || []).join(' ') || '—'),
            td('Part', s.recording === false ? '—' : s.part ?? '—',
               s.recording === false ? 'not recording' : null, 'num'),
            td('Duration', fmtDuration(s.duration), null, 'num'),
            td('Size', fmtBytes(s.bytes), null, 'num'),
            td('Plan', why, how),
            el('td', { class: 'actions' },
               button('Recordings', function () {
                   const f = $('#files-form');
                   f.reset();
                   f.elements.app.value = s.app || '';
                   f.elements.stream.value = s.stream || s.stream_id || '';
                   S.query = null;
                   show('files');
               })));
    });
    fill($('#live-table'), rows);
}


/* recordings */

function filesQuery() {
    const f = $('#files-form').elements;
    return {
        app: f.app.value.trim(),
        stream: f.stream.value.trim(),
        session_id: f.session_id.value.trim(),
        format: f.format.value,
        from: timeField(f.from, 'From'),
        to: timeField(f.to, 'To')
    };
}

function searchFiles(ev) {
    if (ev) {
        ev.preventDefault();
    }
    try {
        filesQuery();
    } catch (e) {
        return status(e.message, true);
    }
    S.query = null;
    loadFiles();
}

function isHls(f) {
    return f.file_format === 'hls' || f.file_format === 'm3u8'
           || /\.m3u8(\?|$)/.test(f.video_url || '');
}

/*
 * Recordings are listed by broadcast: the files of one session (every
 * part, every format) under one row with their totals, opened with
 * "Files".  A page of the API's files names the sessions; each is then
 * asked for whole (same filters), and shown on the page that holds its
 * newest file, so that a session is counted once and in full.
 */

const SESSION_MAX = 1000;

function fileRow(f, key) {
    const url = f.video_url || null;
    const hls = isHls(f);
    const playable = url && (hls || /^(mp4|aac)$/.test(f.file_format));
    return el('tr', { class: 'file', data: { fileId: f.file_id, group: key },
                      hidden: !S.open.has(key) },
        td('Stream', (f.app || '?') + '/' + (f.stream_id || f.stream || '?'),
           f.domain || null),
        td('Start', fmtTime(f.start_time), null, 'num'),
        td('Duration', fmtDuration(f.duration), null, 'num'),
        td('Size', fmtBytes(f.file_size), null, 'num'),
        td('Format', f.file_format || '—',
           f.task_id ? 'task ' + f.task_id : f.template || null),
        td('Part', f.part ?? '—', null, 'num'),
        td('End', f.end_reason || '—'),
        el('td', { class: 'actions' },
           playable ? button('Play', () => play(f), 'play') : null,
           url ? el('a', { href: url, download: true, class: 'download',
                           title: hls ? 'The playlist (.m3u8) only: its '
                                        + 'segments stay on the server; '
                                        + 'ffmpeg -i URL -c copy out.mp4 '
                                        + 'saves the whole recording'
                                      : null },
                    hls ? 'Download playlist (.m3u8)' : 'Download')
               : null,
           button('Delete', () => deleteFile(f), 'danger')));
}

function groupRows(key, files) {
    const f0 = files[files.length - 1];     /* the oldest */
    const formats = [...new Set(files.map((f) => f.file_format || '?'))];
    const parts = new Map();
    let bytes = 0;
    for (const f of files) {
        /* a part: its number in its publish, and when it started; it
           lasts as long as its longest format */
        bytes += f.file_size || 0;
        if (f.end_reason === 'concat') {
            continue;   /* a joined file repeats parts listed beside it */
        }
        const k = (f.start_time_ms || f.start_time) + '/' + f.part;
        parts.set(k, Math.max(parts.get(k) || 0, f.duration || 0));
    }
    let duration = 0;
    for (const d of parts.values()) {
        duration += d;
    }
    const open = S.open.has(key);
    const session = f0.session_id;
    /* joining makes one file of a format's parts: mp4, else flv */
    const join = session && ['mp4', 'flv'].map(
        (fmt) => files.filter((f) => f.file_format === fmt))
        .find((list) => list.length > 1);
    const toggle = el('button', { type: 'button', class: 'quiet toggle',
                                  'aria-expanded': String(open) },
                      (open ? 'Hide ' : 'Files (') + files.length
                      + (open ? ' files' : ')'));
    toggle.addEventListener('click', function () {
        const now = !S.open.has(key);
        if (now) {
            S.open.add(key);
        } else {
            S.open.delete(key);
        }
        for (const r of document.querySelectorAll('#files-table tr.file')) {
            if (r.dataset.group === key) {
                r.hidden = !now;
            }
        }
        toggle.setAttribute('aria-expanded', String(now));
        toggle.textContent = (now ? 'Hide ' : 'Files (') + files.length
                             + (now ? ' files' : ')');
    });
    const head = el('tr', { class: 'group', data: { group: key,
                                                    session: session || '' } },
        td('Stream', (f0.app || '?') + '/' + (f0.stream_id || f0.stream || '?'),
           [f0.domain, session ? 'session ' + session : 'no session']
           .filter(Boolean).join(' · ')),
        td('Start', fmtTime(f0.start_time), null, 'num'),
        td('Duration', fmtDuration(duration), null, 'num'),
        td('Size', fmtBytes(bytes), null, 'num'),
        td('Formats', formats.join(' ')),
        td('Parts', parts.size, null, 'num'),
        td('Files', files.length + (files.length === 1 ? ' file' : ' files'),
           null, 'total'),
        el('td', { class: 'actions' }, toggle,
           join ? button('Join session (' + join[0].file_format + ')',
                         () => concat(join[0])) : null));
    return [head].concat(files.map((f) => fileRow(f, key)));
}

async function loadFiles() {
    if (!S.query) {
        try {
            S.query = filesQuery();
        } catch (e) {
            return status(e.message, true);
        }
        S.pages = [null];
        S.page = 0;
    }

    const seq = ++S.seq.files;
    let data, groups;
    try {
        data = await api('GET', 'files' + query(Object.assign({},
                         S.query, { limit: PAGE_SIZE,
                                    cursor: S.pages[S.page] })));
        groups = await sessions(data.files || []);
    } catch (e) {
        return failed('Recordings')(e);
    }
    if (seq !== S.seq.files) {
        return;
    }

    S.next = data.next_cursor || null;

    const rows = [];
    for (const [key, files] of groups) {
        rows.push(...groupRows(key, files));
    }

    $('#files .empty').textContent = rows.length || !(data.files || []).length
        ? 'No recordings match.'
        : 'The files of this page belong to broadcasts listed in full on '
          + 'a newer page.';
    fill($('#files-table'), rows);
    const n = groups.length;
    const total = groups.reduce((a, g) => a + g[1].length, 0);
    $('#files-summary').textContent = n ? n + (n === 1 ? ' broadcast, '
                                                       : ' broadcasts, ')
                                          + total + ' files' : '';
    $('#files-newer').disabled = S.page === 0;
    $('#files-older').disabled = !S.next;
    $('#files-page').textContent = rows.length || S.page
                                   ? 'page ' + (S.page + 1) : '';
}

/* [[key, files newest first], ...] for the page's files, in page order */
async function sessions(page) {
    const ids = new Set(page.map((f) => f.file_id));
    const keys = [];
    const solo = new Map();
    for (const f of page) {
        const key = f.session_id ? 's:' + f.session_id : 'f:' + f.file_id;
        if (!keys.includes(key)) {
            keys.push(key);
        }
        if (!f.session_id) {
            solo.set(key, [f]);
        }
    }
    const whole = await Promise.all(keys.map(function (key) {
        if (solo.has(key)) {
            return solo.get(key);
        }
        return api('GET', 'files' + query(Object.assign({}, S.query, {
                       session_id: key.slice(2), limit: SESSION_MAX })))
               .then((d) => d.files || []);
    }));
    /* a session whose newest file was on a newer page was shown there */
    return keys.map((k, i) => [k, whole[i]])
               .filter((g) => g[1].length && ids.has(g[1][0].file_id));
}

function older() {
    if (S.next) {
        S.pages = S.pages.slice(0, S.page + 1);
        S.pages.push(S.next);
        S.page++;
        loadFiles();
    }
}

function newer() {
    if (S.page > 0) {
        S.page--;
        loadFiles();
    }
}

async function deleteFile(f) {
    if (!confirm('Delete ' + f.file_id + '?\n\nThe file is removed from '
                 + 'the store and the index.'))
    {
        return;
    }
    try {
        /* an entry an http store renamed is addressed by its index_id */
        await api('DELETE', 'files/'
                  + encodeURIComponent(f.index_id || f.file_id));
    } catch (e) {
        return failed('Delete ' + f.file_id)(e);
    }
    if ($('#player').dataset.fileId === f.file_id) {
        closePlayer();
    }
    status('Deleted ' + f.file_id + '.');
    loadFiles();
}

/* the session's parts of this file's stream and format, joined into one */
async function concat(f) {
    const session = f.session_id;
    let job;
    try {
        job = await api('POST', 'concat', {
            session_id: session,
            app: f.app,
            stream: f.stream_id || f.stream,
            format: f.file_format
        });
    } catch (e) {
        return failed('Join session ' + session)(e);
    }

    const id = job.job_id;
    status('Joining session ' + session + ': queued.');

    for (;;) {
        await new Promise((done) => setTimeout(done, 1000));
        if (!token()) {
            return;     /* logged out meanwhile */
        }
        try {
            job = await api('GET', 'concat/' + encodeURIComponent(id));
        } catch (e) {
            return failed('Join session ' + session)(e);
        }
        if (job.state === 'done') {
            status('Session ' + session + ' joined'
                   + (job.file_id ? ' into ' + job.file_id : '') + '.');
            if (S.tab === 'files') {
                loadFiles();
            }
            return;
        }
        if (job.state === 'failed') {
            status('Join session ' + session + ' failed: '
                   + (job.error || 'unknown error'), true);
            return;
        }
        status('Joining session ' + session + ': ' + (job.state || '?')
               + (typeof job.progress === 'number'
                  ? ' ' + Math.round(job.progress * 100) + '%' : '')
               + '.');
    }
}


/* the player: native <video> for MP4 and native HLS, else hls.js */

function loadHlsJs() {
    if (window.Hls) {
        return Promise.resolve(window.Hls);
    }
    return new Promise(function (resolve, reject) {
        const s = el('script', { src: 'hls.min.js' });
        s.onload = () => resolve(window.Hls);
        s.onerror = () => reject(new Error('hls.min.js did not load'));
        document.head.append(s);
    });
}

async function play(f) {
    const box = $('#player');
    const video = $('#video');

    closePlayer();
    box.hidden = false;
    box.dataset.fileId = f.file_id;
    $('#player-title').textContent = (f.app || '') + '/'
        + (f.stream_id || f.stream || '') + ' · ' + fmtTime(f.start_time)
        + ' · ' + (f.file_format || '');

    video.onerror = function () {
        const err = video.error;
        status('Playback: ' + (err && err.message || 'the browser cannot '
               + 'play this file') + ' (code ' + (err && err.code) + ')',
               true);
    };

    if (isHls(f) && !video.canPlayType('application/vnd.apple.mpegurl')) {
        let Hls;
        try {
            Hls = await loadHlsJs();
        } catch (e) {
            return status('Playback: ' + e.message, true);
        }
        if (!Hls || !Hls.isSupported()) {
            return status('Playback: this browser plays no HLS', true);
        }
        S.hls = new Hls();
        S.hls.on(Hls.Events.ERROR, function (ev, d) {
            if (d.fatal) {
                status('Playback: ' + d.type + ': ' + d.details, true);
            }
        });
        S.hls.loadSource(f.video_url);
        S.hls.attachMedia(video);

    } else {
        video.src = f.video_url;
    }

    video.play().catch(function () {
        /* autoplay refused: the controls are there */
    });
    box.scrollIntoView({ block: 'nearest' });
}

function closePlayer() {
    const video = $('#video');
    if (S.hls) {
        S.hls.destroy();
        S.hls = null;
    }
    video.onerror = null;
    video.pause();
    video.removeAttribute('src');
    video.load();
    $('#player').hidden = true;
    delete $('#player').dataset.fileId;
}


/* record tasks */

async function loadTasks() {
    const seq = ++S.seq.tasks;
    let data;
    try {
        data = await api('GET', 'tasks');
    } catch (e) {
        return failed('Tasks')(e);
    }
    if (seq !== S.seq.tasks) {
        return;     /* a newer request is on its way */
    }

    const tasks = (data.tasks || []).slice().sort(
        (a, b) => (b.created_time || 0) - (a.created_time || 0));

    const rows = tasks.map(function (t) {
        const live = t.state === 'scheduled' || t.state === 'active';
        return el('tr', { data: { taskId: t.task_id } },
            td('Task', t.task_id,
               t.created_time ? 'created ' + fmtTime(t.created_time) : null),
            td('Stream', (t.app || '?') + '/' + (t.stream || '?'),
               t.domain || null),
            td('Start', fmtTime(t.start_time), null, 'num'),
            td('End', fmtTime(t.end_time), null, 'num'),
            td('Template', t.template || '—',
               t.extension === null || t.extension === undefined ? null
               : 'extension ' + (typeof t.extension === 'string'
                                 ? t.extension
                                 : JSON.stringify(t.extension))),
            el('td', { 'data-label': 'State' },
               el('span', { class: 'state-' + t.state }, t.state || '?')),
            el('td', { class: 'actions' },
               live ? button('Stop', () => stopTask(t)) : null,
               button('Delete', () => deleteTask(t), 'danger')));
    });
    fill($('#tasks-table'), rows);

    const end = $('#task-form').elements.end;
    if (!end.value) {
        end.value = toLocalInput(Math.floor(Date.now() / 1000) + 3600);
    }
}

async function createTask(ev) {
    ev.preventDefault();
    const f = ev.target.elements;
    let start, end;
    try {
        start = timeField(f.start, 'Start');
        end = timeField(f.end, 'End');
    } catch (e) {
        return status(e.message, true);
    }
    const task = {
        app: f.app.value.trim(),
        stream: f.stream.value.trim(),
        end_time: end
    };
    if (start !== null) {
        task.start_time = start;
    }
    for (const k of ['domain', 'template']) {
        if (f[k].value.trim()) {
            task[k] = f[k].value.trim();
        }
    }

    /* the extension is any JSON, echoed in the task's files and events;
       what does not parse as JSON is sent as a string */
    const ext = f.extension.value.trim();
    if (ext) {
        try {
            task.extension = JSON.parse(ext);
        } catch (e) {
            task.extension = ext;
        }
    }

    let t;
    try {
        t = await api('POST', 'tasks', task);
    } catch (e) {
        return failed('Create task')(e);
    }
    status('Created task ' + (t.task_id || '') + ' for ' + task.app + '/'
           + task.stream + ', ' + (t.state || 'scheduled') + '.');
    f.stream.value = '';
    loadTasks();
}

async function stopTask(t) {
    try {
        await api('POST', 'tasks/' + encodeURIComponent(t.task_id) + '/stop');
    } catch (e) {
        return failed('Stop task ' + t.task_id)(e);
    }
    status('Stopped task ' + t.task_id + '.');
    loadTasks();
}

async function deleteTask(t) {
    if (!confirm('Delete task ' + t.task_id + '?')) {
        return;
    }
    try {
        await api('DELETE', 'tasks/' + encodeURIComponent(t.task_id));
    } catch (e) {
        return failed('Delete task ' + t.task_id)(e);
    }
    status('Deleted task ' + t.task_id + '.');
    loadTasks();
}


/* start */

async function start() {
    try {
        const res = await fetch('config.json', { cache: 'no-cache' });
        const conf = await res.json();
        if (conf && typeof conf.api === 'string' && conf.api) {
            S.api = conf.api;
        }
    } catch (e) {
        status('config.json: ' + e.message + '; using ' + S.api, true);
    }
    $('#api-base').textContent = S.api;
    showZones();

    $('#login-form').addEventListener('submit', login);
    $('#logout').addEventListener('click', () => logout());
    for (const b of document.querySelectorAll('#tabs button')) {
        b.addEventListener('click', () => show(b.dataset.tab));
    }
    $('#live-refresh').addEventListener('click', loadLive);
    $('#files-form').addEventListener('submit', searchFiles);
    $('#files-older').addEventListener('click', older);
    $('#files-newer').addEventListener('click', newer);
    $('#player-close').addEventListener('click', closePlayer);
    $('#task-form').addEventListener('submit', createTask);

    if (token()) {
        enter();
    } else {
        logout();
    }
}

start();

})();
