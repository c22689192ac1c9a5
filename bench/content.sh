#!/usr/bin/env bash
#
# content.sh -- builds the benchmark's DASH content once: a synthetic 20 s
# VOD encoded by ffmpeg into a 1080p/720p/540p/360p H.264 ladder plus AAC,
# 2 s CMAF segments, laid out as the URLs of DESIGN.md section 6:
#
#   OUT/vod/bench/manifest.mpd
#   OUT/vod/bench/{rep}/init.mp4       ({rep} = 0..3: 1080p, 720p, 540p, 360p;
#   OUT/vod/bench/{rep}/{t}.m4s         4: audio; {t} = media time, timescale units)
#
# Usage: bench/content.sh OUT_DIR
#
# The video is CBR (x264 nal-hrd=cbr) so segment sizes are set by the
# bitrates: 5000 kbit/s * 2 s = 1.25 MB for 1080p and 680 kbit/s * 2 s =
# 170 KB for 360p -- the two segment sizes the benchmark asks for. Noise
# keeps x264 from undershooting on an easy test pattern.
#
# When OUT_DIR/.done exists with the same recipe stamp, nothing is rebuilt.
# Not here: serving the content (bench/origin/), measuring (bench/run).

set -euo pipefail

out=${1:?usage: content.sh OUT_DIR}
# Bump when the recipe below changes, so old caches are rebuilt.
RECIPE=v1-20s-1080p5000-720p3000-540p1600-360p680-seg2

if [ -f "$out/.done" ] && [ "$(cat "$out/.done")" = "$RECIPE" ]; then
    exit 0
fi
command -v ffmpeg >/dev/null 2>&1 || {
    echo "content.sh: ffmpeg is missing (apt-get install ffmpeg)" >&2
    exit 1
}

tmp="$out.tmp.$$"
rm -rf "$tmp"
# ffmpeg's dash muxer does not create the per-representation directories.
mkdir -p "$tmp/vod/bench"/{0,1,2,3,4}
trap 'rm -rf "$tmp"' EXIT

dur=20
fps=30
gop=$((2 * fps)) # one IDR per 2 s segment, no scene-cut keyframes

# rung: name width height kbit/s
rungs=("1080p 1920 1080 5000" "720p 1280 720 3000" "540p 960 540 1600" "360p 640 360 680")

split="[0:v]noise=alls=10:allf=t,split=${#rungs[@]}"
filters=""
maps=()
codec=()
i=0
for r in "${rungs[@]}"; do
    read -r _ w h kbps <<<"$r"
    split+="[s$i]"
    filters+=";[s$i]scale=${w}:${h}:flags=bicubic[o$i]"
    maps+=(-map "[o$i]")
    codec+=("-b:v:$i" "${kbps}k" "-maxrate:v:$i" "${kbps}k" "-bufsize:v:$i" "${kbps}k")
    i=$((i + 1))
done

echo "content.sh: encoding a ${dur}s ladder into $out (once; reused afterwards)" >&2
(
    cd "$tmp/vod/bench"
    # The $...$ names are DASH template identifiers for ffmpeg, not shell.
    # shellcheck disable=SC2016
    ffmpeg -hide_banner -loglevel error -nostdin -y \
        -f lavfi -i "testsrc2=size=1920x1080:rate=${fps}:duration=${dur}" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=${dur}" \
        -filter_complex "${split}${filters}" \
        "${maps[@]}" -map 1:a \
        -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p \
        -g "$gop" -keyint_min "$gop" -sc_threshold 0 \
        -x264-params "nal-hrd=cbr:force-cfr=1" \
        "${codec[@]}" \
        -c:a aac -b:a 128k -ac 2 \
        -f dash -seg_duration 2 -use_template 1 -use_timeline 1 \
        -adaptation_sets "id=0,streams=v id=1,streams=a" \
        -init_seg_name '$RepresentationID$/init.mp4' \
        -media_seg_name '$RepresentationID$/$Time$.m4s' \
        manifest.mpd
)
echo "$RECIPE" >"$tmp/.done"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "content.sh: done: $(du -sh "$out" | cut -f1) in $out" >&2
