/*
 * comments.js -- comments with threaded replies: social.js does the work (it shares
 * the session and the event stream with reactions.js).
 */
import { mountComments } from './social.js';

export function mount(ctx, el) {
    mountComments(ctx, el);
}
