/*
 * comments.js -- comments with threaded replies (a later issue).
 *
 * Contract for that issue: list with cursor pagination from the edge's /api/ proxy,
 * new comments live from /events/{stream}, a reply form per comment. Text goes in with
 * textContent only. Typing in its fields must not trigger the player's keys (keys.js
 * already ignores keys aimed at input, textarea and contenteditable elements). Until
 * then the container stays hidden.
 */

export function mount(ctx, el) {
    el.hidden = true;
}
