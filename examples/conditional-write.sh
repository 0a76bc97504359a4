#!/usr/bin/env bash
# Upload a local file to S3 only when that is safe, with conditional writes, and prove the result.
#
#   examples/conditional-write.sh [--tries N] [--part-size SIZE] [--if-match ETAG] [--backoff SECS]
#                                 FILE s3://BUCKET/KEY
#
# 1. Predicts the ETag the upload will get: `etagsum hash --single FILE` for one PutObject (the default,
#    up to 5 GiB), `etagsum hash --part-size SIZE FILE` for a multipart upload (--part-size).
# 2. Asks `etagsum verify FILE s3://BUCKET/KEY --json` what is there (one HeadObject, usually):
#      match        the object already equals the file: nothing is written (exit 0);
#      missing      write with If-None-Match: * (create it, never overwrite);
#      mismatch     write with If-Match: <the ETag verify read> (replace exactly what was judged);
#      inconclusive nothing proves the object equal or different: nothing is written (exit 3).
# 3. After the write, requires that S3 assigned exactly the predicted ETag.
# 4. After a refused write (412 Precondition Failed; 409 ConditionalRequestConflict, a concurrent
#    write; 404 NoSuchKey, If-Match on an object deleted meanwhile), asks verify again:
#      match        the refusal was benign: an earlier try of ours had landed (a retry after a lost
#                   response) or another writer wrote the same bytes: done (exit 0);
#      otherwise    a real conflict: someone else changed the object. Retry against what is there now,
#                   at most --tries writes in all, then give up (exit 4).
#
# Options:
#   --tries N         writes to attempt at most (default 5)
#   --part-size SIZE  multipart upload (CreateMultipartUpload, UploadPart, then the conditional
#                     CompleteMultipartUpload) with parts of SIZE: 8MiB, 16777216, ... Needed above 5 GiB.
#   --if-match ETAG   the ETag the object had when this script last wrote it (it prints it): the first
#                     write goes out with If-Match: ETAG without asking S3 first
#   --backoff SECS    pause before retry number k: k * SECS seconds (default 1)
#
# Environment:
#   ETAGSUM          the etagsum command (default: etagsum)
#   AWSCLI           the aws cli command (default: aws)
#   ETAGSUM_S3_OPTS  more options for etagsum verify, e.g. "--path-style" for an S3-compatible store
#   AWSCLI_OPTS      more options for every aws command, e.g. "--profile backup"
#   AWS_ENDPOINT_URL, AWS_PROFILE, AWS_REGION, ...: read by both etagsum and the aws cli
#   JQ               the jq command (default: jq); when it is empty or not installed, python3 reads JSON
#
# Exit status: 0 the object equals the file (written now, or already); 2 an error (usage, etagsum, aws);
# 3 inconclusive, nothing written; 4 gave up after --tries refused writes; 5 written, but S3 assigned
# another ETag than predicted (did the file change during the upload?).
set -euo pipefail

me=conditional-write.sh
usage() {
    echo "usage: $me [--tries N] [--part-size SIZE] [--if-match ETAG] [--backoff SECS] FILE s3://BUCKET/KEY" >&2
    exit 2
}
die() {
    echo "$me: $*" >&2
    exit 2
}

tries_max=5
part_size_arg=""
known_etag=""
backoff=1
while (($# > 0)); do
    case $1 in
        --tries) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage; tries_max=$2; shift 2 ;;
        --part-size) [[ $# -ge 2 ]] || usage; part_size_arg=$2; shift 2 ;;
        --if-match) [[ $# -ge 2 ]] || usage; known_etag=${2//\"/}; shift 2 ;;
        --backoff) [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || usage; backoff=$2; shift 2 ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
[[ $# -eq 2 ]] || usage
file=$1
url=$2
[[ -f $file ]] || die "$file: not a regular file"
[[ $url =~ ^s3://([^/]+)/(.+)$ ]] || die "$url: expected s3://BUCKET/KEY"
bucket=${BASH_REMATCH[1]}
key=${BASH_REMATCH[2]}

read -r -a etagsum <<<"${ETAGSUM:-etagsum}"
read -r -a aws <<<"${AWSCLI:-aws}"
read -r -a etagsum_opts <<<"${ETAGSUM_S3_OPTS:-}"
read -r -a aws_opts <<<"${AWSCLI_OPTS:-}"
jq=${JQ-jq}
if [[ -z $jq ]] || ! command -v "$jq" >/dev/null 2>&1; then
    jq=""
    command -v python3 >/dev/null 2>&1 || die "jq or python3 is needed to read etagsum's JSON"
fi

# json_field PATH: the value at a dotted PATH (verdict, layout.parts) of the JSON object on standard
# input; empty for null or absent.
json_field() {
    if [[ -n $jq ]]; then
        # shellcheck disable=SC2016  # $path is jq's variable
        "$jq" -r --arg path "$1" 'getpath($path | split(".")) // empty'
    else
        python3 -c '
import json, sys
value = json.load(sys.stdin)
for name in sys.argv[1].split("."):
    value = value.get(name) if isinstance(value, dict) else None
if value is not None:
    print(value if isinstance(value, str) else json.dumps(value))
' "$1"
    fi
}

tmp=$(mktemp -d)
upload_id=""
# shellcheck disable=SC2317  # called from the trap
cleanup() {
    if [[ -n $upload_id ]]; then  # a multipart upload left open (after a 412, or an error)
        "${aws[@]}" "${aws_opts[@]}" s3api abort-multipart-upload --bucket "$bucket" --key "$key" \
            --upload-id "$upload_id" >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- 1. the ETag the upload will get ------------------------------------------------------------
if [[ -n $part_size_arg ]]; then
    "${etagsum[@]}" hash --part-size "$part_size_arg" --json "$file" >"$tmp/hash.json" ||
        die "etagsum hash failed"
    part_size=$(json_field layout.part_size <"$tmp/hash.json")
    parts=$(json_field layout.parts <"$tmp/hash.json")
    size=$(json_field size <"$tmp/hash.json")
    how="multipart, $parts part(s) of $part_size bytes"
else
    "${etagsum[@]}" hash --single --json "$file" >"$tmp/hash.json" || die "etagsum hash failed"
    how="single PUT"
fi
predicted=$(json_field etag <"$tmp/hash.json")
[[ -n $predicted ]] || die "etagsum hash printed no ETag"
echo "predicted ETag: $predicted ($how)"

# ---- the requests -------------------------------------------------------------------------------
# verify: sets $verdict, $remote_etag and $reason from `etagsum verify --json`.
verify() {
    local status=0
    "${etagsum[@]}" verify "$file" "$url" --json "${etagsum_opts[@]}" >"$tmp/verify.json" || status=$?
    if ((status == 2)) || [[ ! -s $tmp/verify.json ]]; then
        die "etagsum verify failed (exit status $status); nothing was written"
    fi
    verdict=$(json_field verdict <"$tmp/verify.json")
    remote_etag=$(json_field remote_etag <"$tmp/verify.json")
    reason=$(json_field reason <"$tmp/verify.json")
}

# aws_s3api OPERATION ARGS...: runs one aws s3api command, its output in $tmp/out, its errors in
# $tmp/err; returns its exit status.
aws_s3api() {
    "${aws[@]}" "${aws_opts[@]}" s3api "$@" --bucket "$bucket" --key "$key" >"$tmp/out" 2>"$tmp/err"
}

# write CONDITION...: one conditional upload; sets $assigned to the ETag S3 assigned. On failure the
# aws cli's message is in $tmp/err. (Not run in a subshell: it keeps $upload_id.)
write() {
    assigned=""
    if [[ -z $part_size_arg ]]; then
        aws_s3api put-object --body "$file" "$@" --query ETag --output text || return
        assigned=$(tr -d '"' <"$tmp/out")
        return
    fi
    if [[ -z $upload_id ]]; then  # after a 412 the upload stays open and its parts are reused
        aws_s3api create-multipart-upload --query UploadId --output text || return
        upload_id=$(<"$tmp/out")
        local n sep="" etag want
        printf '{"Parts": [' >"$tmp/parts.json"
        for ((n = 1; n <= parts; n++)); do
            # tail is stopped by SIGPIPE when head has its part: the part's size is what is checked.
            (set +o pipefail; tail -c "+$(((n - 1) * part_size + 1))" "$file" | head -c "$part_size" >"$tmp/part")
            want=$((size - (n - 1) * part_size < part_size ? size - (n - 1) * part_size : part_size))
            if (($(wc -c <"$tmp/part") != want)); then
                echo "could not read part $n of $file ($want bytes)" >"$tmp/err"
                return 1
            fi
            aws_s3api upload-part --upload-id "$upload_id" --part-number "$n" --body "$tmp/part" \
                --query ETag --output text || return
            etag=$(tr -d '"' <"$tmp/out")
            printf '%s{"ETag": "\\"%s\\"", "PartNumber": %d}' "$sep" "$etag" "$n" >>"$tmp/parts.json"
            sep=", "
        done
        printf ']}\n' >>"$tmp/parts.json"
        rm -f "$tmp/part"
    fi
    local status=0
    aws_s3api complete-multipart-upload --upload-id "$upload_id" --multipart-upload "file://$tmp/parts.json" \
        "$@" --query ETag --output text || status=$?
    case $status:$(<"$tmp/err") in
        0:*) upload_id="" ;;
        # A 409 ends the upload on S3; a new one must be started.
        *"(ConditionalRequestConflict)"* | *"(409)"* | *"(NoSuchUpload)"*) upload_id="" ;;
    esac
    ((status == 0)) || return "$status"
    assigned=$(tr -d '"' <"$tmp/out")
}

# refusal: the kind of a refused conditional write, from the aws cli's message; empty for other errors.
refusal() {
    case $(<"$tmp/err") in
        *"(PreconditionFailed)"* | *"(412)"*) echo "412 Precondition Failed" ;;
        *"(ConditionalRequestConflict)"* | *"(409)"*) echo "409 ConditionalRequestConflict" ;;
        *"(NoSuchKey)"*) echo "404 NoSuchKey" ;;
        *"(NoSuchUpload)"*) echo "404 NoSuchUpload" ;;
    esac
}

# ---- 2 to 4: verify, write, judge a refusal, retry ----------------------------------------------
tries=0
refused=""
condition=()
if [[ -n $known_etag && $known_etag != "$predicted" ]]; then
    condition=(--if-match "\"$known_etag\"")
    echo "$url: writing with If-Match: $known_etag (the ETag given; S3 was not asked)"
fi
while true; do
    if ((${#condition[@]} == 0)); then
        verify
        case $verdict in
            match)
                if [[ -z $refused ]]; then
                    echo "$url: already equals $file (ETag $remote_etag); nothing written"
                else
                    echo "$url: equals $file (ETag $remote_etag) after the $refused: an earlier try of" \
                        "ours had landed, or another writer wrote the same bytes; nothing more to write"
                fi
                exit 0
                ;;
            missing)
                condition=(--if-none-match '*')
                echo "$url: missing; writing with If-None-Match: *"
                ;;
            mismatch)
                condition=(--if-match "\"$remote_etag\"")
                echo "$url: differs from $file ($reason); writing with If-Match: $remote_etag"
                ;;
            inconclusive)
                echo "$me: $url: cannot prove that it equals $file or differs from it ($reason);" \
                    "nothing written" >&2
                exit 3
                ;;
            *) die "etagsum verify gave verdict '$verdict'; nothing was written" ;;
        esac
    fi
    if ((tries >= tries_max)); then
        echo "$me: $url: giving up after $tries refused writes: another writer keeps changing it" >&2
        exit 4
    fi
    if ((tries > 0 && backoff > 0)); then
        sleep $((tries * backoff))
    fi
    tries=$((tries + 1))
    if write "${condition[@]}"; then
        if [[ $assigned == "$predicted" ]]; then
            echo "$url: written; S3 assigned ETag $assigned, as predicted"
            exit 0
        fi
        echo "$me: $url: written, but S3 assigned ETag $assigned, not the predicted $predicted;" \
            "did $file change during the upload?" >&2
        exit 5
    fi
    refused=$(refusal)
    if [[ -z $refused ]]; then
        cat "$tmp/err" >&2
        die "the upload failed (try $tries of $tries_max)"
    fi
    echo "$url: try $tries of $tries_max refused ($refused); reading it again"
    condition=()
done
