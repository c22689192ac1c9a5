/*
 * reactions.js -- reaction buttons and the live count: social.js does the work (it
 * shares the session and the event stream with comments.js).
 */
import { mountReactions } from './social.js';

export function mount(ctx, el) {
    mountReactions(ctx, el);
}
