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

function fmtTime(t) {
    if (typeof t !== 'number' || !isFinite(t) || t <= 0) {
        return '—';
    }
    const d = new Date(t * 1000);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-'
           + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':'
           + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
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

/* <input type=datetime-local> <-> unix seconds, in local time */

function toUnix(value) {
    if (!value) {
        return null;
    }
    const t = new Date(value).getTime();
    return isNaN(t) ? null : Math.floor(t / 1000);
}

function toLocalInput(t) {
    return fmtTime(t).replace(' ', 'T');
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
        if (res.status === 401 || res.status === 403) {
            logout(res.status === 401 ? 'Log in: ' + err.message
                                      : 'Wrong token: ' + err.message);
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
        from: toUnix(f.from.value),
        to: toUnix(f.to.value)
    };
}

function searchFiles(ev) {
    if (ev) {
        ev.preventDefault();
    }
    S.query = null;
    loadFiles();
}

function isHls(f) {
    return f.file_format === 'hls' || f.file_format === 'm3u8'
           || /\.m3u8(\?|$)/.test(f.video_url || '');
}

async function loadFiles() {
    if (!S.query) {
        S.query = filesQuery();
        S.pages = [null];
        S.page = 0;
    }

    const seq = ++S.seq.files;
    let data;
    try {
        data = await api('GET', 'files' + query(Object.assign({},
                         S.query, { limit: PAGE_SIZE,
                                    cursor: S.pages[S.page] })));
    } catch (e) {
        return failed('Recordings')(e);
    }
    if (seq !== S.seq.files) {
        return;
    }

    const files = data.files || [];
    S.next = data.next_cursor || null;

    const rows = files.map(function (f) {
        const name = (f.app || '?') + '/' + (f.stream_id || f.stream || '?');
        const url = f.video_url || null;
        const playable = url && (isHls(f) || /^(mp4|aac)$/.test(f.file_format));
        return el('tr', { data: { fileId: f.file_id } },
            td('Stream', name,
               [f.domain, f.session_id && 'session ' + f.session_id]
               .filter(Boolean).join(' · ') || null),
            td('Start', fmtTime(f.start_time), null, 'num'),
            td('Duration', fmtDuration(f.duration), null, 'num'),
            td('Size', fmtBytes(f.file_size), null, 'num'),
            td('Format', f.file_format || '—',
               f.task_id ? 'task ' + f.task_id : f.template || null),
            td('Part', f.part ?? '—', null, 'num'),
            td('End', f.end_reason || '—'),
            el('td', { class: 'actions' },
               playable ? button('Play', () => play(f), 'play') : null,
               url ? el('a', { href: url, download: isHls(f) ? null : true,
                               target: '_blank', rel: 'noopener' },
                        isHls(f) ? 'Playlist' : 'Download') : null,
               f.session_id && /^(mp4|flv)$/.test(f.file_format)
               ? button('Join session', () => concat(f)) : null,
               button('Delete', () => deleteFile(f), 'danger')));
    });

    fill($('#files-table'), rows);
    $('#files-newer').disabled = S.page === 0;
    $('#files-older').disabled = !S.next;
    $('#files-page').textContent = rows.length || S.page
                                   ? 'page ' + (S.page + 1) : '';
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
    const task = {
        app: f.app.value.trim(),
        stream: f.stream.value.trim(),
        end_time: toUnix(f.end.value)
    };
    const start = toUnix(f.start.value);
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
