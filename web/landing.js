/*
 * landing.js -- the page without ?stream= or ?video=: what is live (GET /api/streams)
 * and what is ready (GET /api/videos), as links to the player.
 *
 * Both lists render gracefully when their API is missing (404), down, or answers
 * something unexpected: the list then says there is nothing to show. Names are put in
 * with textContent only, never as HTML.
 *
 * Accepted shapes: {"streams": [...]} / {"videos": [...]} / a bare array; an item is a
 * string or an object with name|id, optional title, and live (streams) or status
 * (videos: only "ready" ones are listed).
 */

export async function showLanding(root) {
    root.hidden = false;
    await Promise.all([
        fill(root.querySelector('#live-list'), '/api/streams', 'streams', (s) => s.live !== false,
            (name) => `?stream=${encodeURIComponent(name)}`, 'Nothing is live right now.'),
        fill(root.querySelector('#video-list'), '/api/videos', 'videos',
            (v) => v.status === undefined || v.status === 'ready',
            (id) => `?video=${encodeURIComponent(id)}`, 'No videos are ready yet.'),
    ]);
}

async function fill(ul, url, field, keep, href, emptyText) {
    let items = [];
    try {
        const res = await fetch(url, { headers: { Accept: 'application/json' } });
        if (res.ok) {
            const body = await res.json();
            items = Array.isArray(body) ? body : Array.isArray(body[field]) ? body[field] : [];
        }
    } catch (e) {
        items = [];
    }
    const rows = items.map(normalize).filter((it) => it && keep(it));
    ul.replaceChildren();
    if (rows.length === 0) {
        const li = document.createElement('li');
        li.className = 'empty';
        li.textContent = emptyText;
        ul.append(li);
        return;
    }
    for (const it of rows) {
        const li = document.createElement('li');
        const a = document.createElement('a');
        a.href = href(it.name);
        a.textContent = it.title || it.name;
        li.append(a);
        ul.append(li);
    }
}

function normalize(it) {
    if (typeof it === 'string') return { name: it };
    if (!it || typeof it !== 'object') return null;
    const name = it.name ?? it.id;
    if (typeof name !== 'string' && typeof name !== 'number') return null;
    return { ...it, name: String(name), title: typeof it.title === 'string' ? it.title : null };
}
