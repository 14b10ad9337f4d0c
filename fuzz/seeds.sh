#!/bin/bash
# Makes fuzz_tag's seed corpus from real encoder output: ffmpeg writes short
# FLV files (libx264 with B-frames, AAC, MP3; 4:4:4, 4:2:2 10-bit and gray
# H.264, scaling lists, interlaced, odd sizes with cropping), and
# flv_split.py cuts them into tag bodies.  Once per build directory: the
# FLV files are kept in DIR/flv and a stamp says the seeds are done.
#
#   fuzz/seeds.sh DIR     seeds go to DIR/corpus/seed-*
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build/fuzz}
flv=$dir/flv
corpus=$dir/corpus

if [ -f "$corpus/.seeds-done" ]; then
    exit 0
fi

mkdir -p "$flv" "$corpus"

# encode NAME SIZE AUDIO_RATE ARGS...: 2 s of testsrc2 and a sine to FLV
encode() {
    local name=$1 size=$2 rate=$3
    shift 3

    if [ -s "$flv/$name.flv" ]; then
        return
    fi

    echo "fuzz seeds: $name.flv"
    ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc2=size=$size:rate=25:duration=2" \
        -f lavfi -i "sine=frequency=440:sample_rate=$rate:duration=2" \
        -threads 1 "$@" -f flv "$flv/$name.flv.tmp"
    mv "$flv/$name.flv.tmp" "$flv/$name.flv"
}

x264="-c:v libx264 -preset veryfast -g 25"

# High 4:2:0, 3 B-frames (composition times), AAC-LC stereo
encode h264-high-bframes-aac 640x360 44100 \
    $x264 -bf 3 -profile:v high -c:a aac -b:a 96k -ac 2

# Baseline (POC type 2), MPEG-1 layer 3 at 44.1 kHz stereo
encode h264-baseline-mp3 320x240 44100 \
    $x264 -profile:v baseline -c:a libmp3lame -b:a 128k -ac 2

# Main, MPEG-2 layer 3 at 22.05 kHz mono, and MPEG-2.5 at 11.025 kHz
encode h264-main-mp3-22050-mono 352x288 22050 \
    $x264 -bf 2 -profile:v main -c:a libmp3lame -b:a 32k -ac 1
encode h264-main-mp3-11025 176x144 11025 \
    $x264 -profile:v main -c:a libmp3lame -b:a 16k -ac 2

# High 4:4:4 Predictive (chroma_format_idc 3), AAC 48 kHz mono
encode h264-444-aac-48000-mono 320x240 48000 \
    $x264 -bf 3 -pix_fmt yuv444p -c:a aac -b:a 64k -ac 1

# High with the JVT scaling lists; x264 codes them in the PPS, never in the
# SPS, so SPS scaling lists are in hand-made seeds (fuzz/regress/)
encode h264-high-cqm-jvt-aac 640x360 44100 \
    $x264 -bf 3 -profile:v high -x264-params cqm=jvt -c:a aac -ac 2

# 4:4:4 with scaling lists (PPS)
encode h264-444-cqm-jvt-aac-8000 320x240 8000 \
    $x264 -pix_fmt yuv444p -x264-params cqm=jvt -c:a aac -ac 1

# explicit scaling lists (PPS)
cqm4=16,14,18,20,22,24,26,28,30,32,34,36,38,40,42,44
cqm8=$(seq -s, 6 2 132)
encode h264-high-cqm-custom-aac 320x240 44100 \
    $x264 -bf 3 -profile:v high \
    -x264-params "cqm4=$cqm4:cqm8=$cqm8" -c:a aac -ac 2

# 1918x1078: frame cropping on both axes; AAC 7.1 (channel config 7)
encode h264-1918x1078-crop-aac-8ch 1918x1078 48000 \
    $x264 -bf 3 -c:a aac -b:a 256k -ac 8

# interlaced (frame_mbs_only_flag 0), 720x484: cropped field pairs
encode h264-interlaced-720x484-aac-5.1 720x484 48000 \
    $x264 -bf 2 -pix_fmt yuv420p -x264-params interlaced=1:tff=1 \
    -c:a aac -ac 6

# High 4:2:2 10-bit (profile 122, chroma_format_idc 2), odd size
encode h264-422-10bit-crop-aac-96000 642x362 96000 \
    $x264 -pix_fmt yuv422p10le -c:a aac -ac 2

# gray (chroma_format_idc 0), odd size, AAC 16 kHz
encode h264-gray-crop-aac-16000 318x238 16000 \
    $x264 -pix_fmt gray -c:a aac -ac 1

python3 "$top/fuzz/flv_split.py" "$corpus" "$flv"/*.flv
touch "$corpus/.seeds-done"
