/*
 * reactions.js -- reaction buttons and the live count (a later issue).
 *
 * Contract for that issue: render the buttons into el and show it; send a reaction to
 * the edge (POST /api/... as the REST design says, stamped with the media time
 * ctx.player.time()), and follow counts from the edge's /events/{stream} SSE stream.
 * Until then the container stays hidden.
 */

export function mount(ctx, el) {
    el.hidden = true;
}
