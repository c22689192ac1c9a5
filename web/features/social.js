/*
 * social.js -- reactions with a live count and comments with replies, through the
 * edge that serves the page (docs/social.md "The viewer page").
 *
 * Everything goes to the page's own edge: writes to /api/... (the edge proxies them
 * to the origin, and sums reactions into batches), live updates from the edge's
 * Server-Sent Events at /events/{stream} or /events/videos/{id}. EventSource resends
 * the last event id when it reconnects, so a viewer whose connection drops misses
 * nothing the edge still holds; on `reset` (it missed more) the page refetches.
 *
 * A session (POST /api/sessions) is made on the first write and kept for the tab
 * (sessionStorage). Reaction counts are totals of per-bucket counts: the first fetch
 * and every `reactions` event carry each bucket's count now, so applying one twice or
 * out of order changes nothing (counts only grow: the larger wins). Text is shown with
 * textContent only.
 *
 * ctx is features/index.js's: { player, kind: 'live'|'vod'|'src', id, ... }.
 */

const KINDS = [
    ['like', '👍'], ['love', '❤️'], ['haha', '😂'], ['wow', '😮'], ['sad', '😢'], ['fire', '🔥'],
];
const PAGE = 20;
const RANGE_MS = 3600 * 1000;

/* One per page: the target, the session, the event stream and who listens to it. */
let shared = null;

function targetOf(ctx) {
    if (ctx.kind === 'live') return { path: `/api/streams/${ctx.id}`, events: `/events/${ctx.id}` };
    if (ctx.kind === 'vod') return { path: `/api/videos/${ctx.id}`, events: `/events/videos/${ctx.id}` };
    return null;
}

function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
}

async function api(method, path, body, token) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let json = null;
    try {
        json = await r.json();
    } catch (e) {
        json = null;
    }
    if (!r.ok) {
        const code = json && json.error ? json.error.code : `http_${r.status}`;
        const err = new Error(code);
        err.status = r.status;
        err.retryAfter = Number(r.headers.get('Retry-After')) || 0;
        throw err;
    }
    return json;
}

function getShared(ctx) {
    if (shared) return shared;
    const target = targetOf(ctx);
    if (!target) return null;
    const listeners = {};
    shared = {
        ctx,
        target,
        name: sessionStorage.getItem('cascade.name') || `viewer-${Math.random().toString(36).slice(2, 6)}`,
        token: sessionStorage.getItem('cascade.token'),
        on(type, fn) {
            (listeners[type] = listeners[type] || []).push(fn);
        },
        async session() {
            if (this.token) return this.token;
            const s = await api('POST', '/api/sessions', { name: this.name });
            this.token = s.token;
            sessionStorage.setItem('cascade.token', s.token);
            sessionStorage.setItem('cascade.name', this.name);
            return this.token;
        },
        async write(method, path, body) {
            await this.session();
            try {
                return await api(method, path, body, this.token);
            } catch (e) {
                if (e.status !== 401) throw e;
                this.token = null; /* expired, or another origin's: a new session, once */
                sessionStorage.removeItem('cascade.token');
                await this.session();
                return api(method, path, body, this.token);
            }
        },
    };
    const es = new EventSource(target.events);
    for (const type of ['ready', 'comment', 'comment_deleted', 'likes', 'reactions', 'reset']) {
        es.addEventListener(type, (m) => {
            let data = null;
            try {
                data = JSON.parse(m.data);
            } catch (e) {
                return;
            }
            for (const fn of listeners[type] || []) fn(data);
        });
    }
    shared.es = es;
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = new URL('./social.css', import.meta.url).toString();
    document.head.append(css);
    window.cascadeSocial = shared; /* for the browser tests */
    return shared;
}

/* Media time in ms for a reaction: where the viewer is in the stream or video. */
function mediaMs(ctx) {
    try {
        const t = ctx.player.time();
        return Number.isFinite(t) && t > 0 ? Math.floor(t * 1000) : 0;
    } catch (e) {
        return 0;
    }
}

export function mountReactions(ctx, root) {
    const s = getShared(ctx);
    if (!s) return;
    const buckets = new Map(); /* "bucket_ms kind" -> count */
    const buttons = {};
    const bar = el('div', 'reaction-bar');
    for (const [kind, emoji] of KINDS) {
        const b = el('button', 'reaction');
        b.type = 'button';
        b.dataset.kind = kind;
        b.title = kind;
        b.append(el('span', 'emoji', emoji), el('span', 'count', '0'));
        b.addEventListener('click', async () => {
            b.classList.add('sent');
            setTimeout(() => b.classList.remove('sent'), 300);
            try {
                await s.write('POST', `${s.target.path}/reactions`, { kind, t: mediaMs(ctx) });
            } catch (e) {
                if (e.message === 'unknown_kind') b.disabled = true;
                else console.warn('reaction not sent', e.message);
            }
        });
        buttons[kind] = b;
        bar.append(b);
    }
    root.append(bar);
    root.hidden = false;

    const render = () => {
        const totals = {};
        for (const [key, n] of buckets) {
            const kind = key.slice(key.indexOf(' ') + 1);
            totals[kind] = (totals[kind] || 0) + n;
        }
        for (const [kind, b] of Object.entries(buttons)) {
            b.querySelector('.count').textContent = String(totals[kind] || 0);
        }
    };
    const merge = (bucketMs, kind, count) => {
        const key = `${bucketMs} ${kind}`;
        if ((buckets.get(key) || 0) < count) buckets.set(key, count);
    };
    const load = async () => {
        const now = mediaMs(ctx);
        const from = Math.max(0, now - RANGE_MS + 60000);
        try {
            const j = await api('GET', `${s.target.path}/reactions?from=${from}&to=${from + RANGE_MS}`);
            for (const b of j.buckets) for (const [kind, n] of Object.entries(b.counts)) merge(b.t, kind, n);
            render();
        } catch (e) {
            console.warn('reactions not loaded', e.message);
        }
    };
    s.on('reactions', (d) => {
        for (const b of d.buckets || []) merge(b.bucket_ms, b.kind, b.count);
        render();
    });
    s.on('reset', load);
    load();
}

function commentNode(s, c, thread) {
    const li = el('li', 'comment');
    li.dataset.id = c.id;
    const head = el('div', 'head');
    head.append(el('span', 'author', c.author ? c.author.name : ''), el('span', 'when',
        new Date(c.created_ms).toLocaleTimeString()));
    const text = el('p', 'text', c.deleted ? '(deleted)' : c.text);
    if (c.deleted) li.classList.add('deleted');
    const actions = el('div', 'actions');
    const reply = el('button', 'reply', 'Reply');
    reply.type = 'button';
    const more = el('button', 'show-replies');
    more.type = 'button';
    const replies = el('ul', 'replies');
    const setCount = (n) => {
        li.dataset.replies = String(n);
        more.textContent = n === 1 ? '1 reply' : `${n} replies`;
        more.hidden = n === 0 || replies.dataset.loaded === '1';
    };
    setCount(c.replies || 0);
    actions.append(reply, more);
    li.append(head, text, actions, replies);
    reply.addEventListener('click', () => {
        if (li.querySelector(':scope > form')) return;
        const form = composeForm(s, 'Reply…', async (value) => {
            await s.write('POST', `${s.target.path}/comments`, { text: value, parent: c.id });
            form.remove();
            await showReplies();
        });
        li.insertBefore(form, replies);
        form.querySelector('textarea').focus();
    });
    const showReplies = async () => {
        const j = await api('GET', `${s.target.path}/comments/${c.id}/replies?limit=100`);
        replies.dataset.loaded = '1';
        for (const r of j.comments) thread.add(r, replies);
        setCount(Number(li.dataset.replies));
    };
    more.addEventListener('click', () => showReplies().catch((e) => console.warn(e.message)));
    li.setCount = setCount;
    li.replies = replies;
    return li;
}

function composeForm(s, placeholder, send) {
    const form = el('form', 'comment-form');
    const area = el('textarea');
    area.placeholder = placeholder;
    area.maxLength = 2000;
    area.rows = 2;
    const button = el('button', 'send', 'Post');
    button.type = 'submit';
    const status = el('span', 'status');
    form.append(area, button, status);
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const value = area.value.trim();
        if (!value) return;
        button.disabled = true;
        status.textContent = '';
        try {
            await send(value);
            area.value = '';
        } catch (e) {
            status.textContent = e.message === 'rate_limited' ? 'Slow down a little.' : `Not posted (${e.message}).`;
        } finally {
            button.disabled = false;
        }
    });
    return form;
}

export function mountComments(ctx, root) {
    const s = getShared(ctx);
    if (!s) return;
    const nodes = new Map(); /* id -> li */
    const top = el('ul', 'comment-list');
    const more = el('button', 'more', 'More comments');
    more.type = 'button';
    more.hidden = true;
    let cursor = null;

    const thread = {
        add(c, list, first = false) {
            if (nodes.has(c.id)) return nodes.get(c.id);
            const li = commentNode(s, c, thread);
            nodes.set(c.id, li);
            if (first) list.prepend(li);
            else list.append(li);
            return li;
        },
    };
    const name = el('input', 'name');
    name.value = s.name;
    name.maxLength = 64;
    name.setAttribute('aria-label', 'Your name');
    name.addEventListener('change', () => {
        if (name.value.trim() && !s.token) s.name = name.value.trim();
    });
    const form = composeForm(s, 'Say something…', async (value) => {
        const c = await s.write('POST', `${s.target.path}/comments`, { text: value });
        thread.add(c, top, true);
    });
    form.prepend(name);
    root.append(el('h2', null, 'Comments'), form, top, more);
    root.hidden = false;

    const loadPage = async () => {
        const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const j = await api('GET', `${s.target.path}/comments?limit=${PAGE}${q}`);
        for (const c of j.comments) thread.add(c, top);
        cursor = j.next_cursor;
        more.hidden = !cursor;
    };
    more.addEventListener('click', () => loadPage().catch((e) => console.warn(e.message)));

    s.on('comment', (d) => {
        const c = d.comment;
        if (!c) return;
        if (!c.parent) {
            thread.add(c, top, true);
            return;
        }
        const parent = nodes.get(c.parent);
        if (!parent) return;
        const known = nodes.has(c.id);
        if (parent.replies.dataset.loaded === '1') thread.add(c, parent.replies);
        if (!known) parent.setCount(Number(parent.dataset.replies) + 1);
    });
    s.on('comment_deleted', (d) => {
        const li = nodes.get(d.comment_id);
        if (!li) return;
        li.classList.add('deleted');
        li.querySelector('.text').textContent = '(deleted)';
    });
    s.on('reset', () => {
        cursor = null;
        loadPage().catch((e) => console.warn(e.message));
    });
    loadPage().catch((e) => console.warn('comments not loaded', e.message));
}
