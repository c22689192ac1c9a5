/*
 * admarker.js -- shows "Ad" while an ad Period plays. The edge splices an ad break as
 * its own Period whose id starts with "ad-" (docs/manifest-model.md, Ad breaks).
 */

export const AD_PERIOD_PREFIX = 'ad-';

export function mount(ctx, el) {
    const events = dashjs.MediaPlayer.events;
    const update = (info) => {
        el.hidden = !(info && typeof info.id === 'string' && info.id.startsWith(AD_PERIOD_PREFIX));
    };
    ctx.player.on(events.PERIOD_SWITCH_COMPLETED, (e) => update(e.toStreamInfo));
    ctx.player.on(events.STREAM_INITIALIZED, (e) => update(e.streamInfo));
}
