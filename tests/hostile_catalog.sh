#!/usr/bin/env bash
# Hostile catalogs: builds a corpus of broken, huge, binary, cyclic and unreadable inputs in a
# temporary folder, one catalog per case plus one holding them all, and runs every catalog
# command over each. Passes when no command crashes (a signal, or an exit status other than
# 0, 1 and 2), none runs past its time limit, every failing run says why on its output, and
# the cases that must be reported are (schema/invalid with the file and the JSON pointer).
# usage: hostile_catalog.sh ACME_BINARY [KEEP_DIR]
#        hostile_catalog.sh --generate-only DIR   (the corpus only, in DIR/corpus; for the
#                                                  library-level test under AddressSanitizer)
set -uo pipefail
acme="$1"
work="${2:-$(mktemp -d)}"
[ $# -ge 2 ] || trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
limit="${HOSTILE_TIME_LIMIT:-60}"
export LC_ALL=C
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# A message folder with frontmatter text and, optionally, a schema file's text.
event() {  # event CATALOG ID SCHEMA_TEXT
    local dir="$1/events/$2"
    mkdir -p "$dir"
    printf -- '---\nid: %s\nname: %s\nversion: 1.0.0\nschemaPath: schema.json\n---\n' "$2" "$2" \
        >"$dir/index.mdx"
    printf '%s' "$3" >"$dir/schema.json"
}
service() {  # service CATALOG ID FRONTMATTER_EXTRA
    mkdir -p "$1/services/$2"
    printf -- '---\nid: %s\nname: %s\nversion: 1.0.0\n%b\n---\nbody\n' "$2" "$2" "${3:-}" \
        >"$1/services/$2/index.mdx"
}
nest() {  # nest N OPEN CLOSE [MIDDLE]: OPEN N times, MIDDLE, then CLOSE N times
    awk -v n="$1" -v o="$2" -v c="$3" -v m="${4:-}" 'BEGIN { for (i = 0; i < n; i++)
        printf "%s", o; printf "%s", m; for (i = 0; i < n; i++) printf "%s", c }'
}
bytes() {  # bytes N SEED: N pseudo-random bytes, the same for every run
    awk -v n="$1" -v s="$2" 'BEGIN { srand(s); for (i = 0; i < n; i++)
        printf "%c", int(rand() * 255) + 1 }'
}

corpus="$work/corpus"
rm -rf "$corpus"
mkdir -p "$corpus"
mk() {  # mk CASE: a fresh catalog folder for one case, with one good service in it
    local c="$corpus/$1"
    mkdir -p "$c"
    service "$c" good-service 'sends:\n  - id: good-event'
    echo "$c"
}

c=$(mk schema-maximum-string)
event "$c" bad-maximum '{"properties":{"a":{"maximum":"x"}}}'
c=$(mk schema-openapi-ref)
event "$c" cut-from-openapi '{"$ref":"#/components/schemas/X"}'
c=$(mk schema-ref-cycle)
event "$c" ref-cycle '{"definitions":{"a":{"$ref":"#/definitions/b"},"b":{"$ref":"#/definitions/a"}},"$ref":"#/definitions/a"}'
event "$c" ref-self '{"$ref":"#","properties":{"a":{"$ref":"#"}}}'
c=$(mk schema-deep)
event "$c" deep-schema "$(nest 10000 '{"properties":{"a":' '}}' '{}')"
event "$c" deep-array "$(nest 10000 '[' ']')"
c=$(mk schema-binary)
event "$c" binary-schema "$(bytes 4096 7)"
c=$(mk schema-wrong-types)
event "$c" wrong-types '{"type":"object","required":"a","properties":[],"items":7,"enum":{},"minLength":-1,"pattern":"(","oneOf":[]}'

c=$(mk frontmatter-truncated)
mkdir -p "$c/services/truncated"
printf -- '---\nid: truncated\nname: [unclosed\nsends:\n  - id: x' >"$c/services/truncated/index.mdx"
mkdir -p "$c/services/fence-only"
printf -- '---' >"$c/services/fence-only/index.mdx"
mkdir -p "$c/services/empty"
: >"$c/services/empty/index.mdx"
c=$(mk frontmatter-binary)
mkdir -p "$c/services/binary"
{ printf -- '---\n'; bytes 8192 11; printf -- '\n---\n'; } >"$c/services/binary/index.mdx"
mkdir -p "$c/services/nul"
printf -- '---\nid: nul\0id\nname: x\0y\nversion: 1.0.0\n---\n\0\0' >"$c/services/nul/index.mdx"
c=$(mk frontmatter-tabs)
mkdir -p "$c/services/tabs"
printf -- '---\nid: tabs\n\tname: tabs\nsends:\n\t- id: good-event\n---\n' >"$c/services/tabs/index.mdx"
c=$(mk frontmatter-shapes)
for shape in '- a\n- b' 'just a scalar' '[1, 2, 3]' 'id: [x]\nname: {a: b}\nversion: [1]' \
    'id: dup\nid: dup\nsends: 7\nreceives: {id: x}\nowners: id' '{': 'id: &a x\nname: *a\nversion: *nope'; do
    n=$((${n:-0} + 1))
    mkdir -p "$c/services/shape$n"
    printf -- "---\n$shape\n---\n" >"$c/services/shape$n/index.mdx"
done
c=$(mk frontmatter-deep)
mkdir -p "$c/services/deep-flow" "$c/services/deep-block"
{ printf -- '---\nid: deep-flow\nname: x\nversion: 1.0.0\nsends: '; nest 10000 '[' ']';
    printf -- '\n---\n'; } >"$c/services/deep-flow/index.mdx"
{ printf -- '---\nid: deep-block\nname: x\nversion: 1.0.0\nsends:\n';
    awk 'BEGIN { for (i = 0; i < 10000; i++) { for (j = 0; j < i; j++) printf " "; print "- " } }';
    printf -- '---\n'; } >"$c/services/deep-block/index.mdx"
c=$(mk frontmatter-alias-bomb)
mkdir -p "$c/services/bomb"
{
    printf -- '---\nid: bomb\nname: bomb\nversion: 1.0.0\na0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n'
    for i in $(seq 1 12); do
        p=$((i - 1))
        printf 'a%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d]\n' \
            "$i" "$i" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p"
    done
    printf 'sends: *a12\n---\n'
} >"$c/services/bomb/index.mdx"
c=$(mk huge-file)
mkdir -p "$c/services/huge"
{ printf -- '---\nid: huge\nname: huge\nversion: 1.0.0\nsummary: '; head -c 20000000 /dev/zero | tr '\0' 'a';
    printf -- '\nsends:\n'; for i in $(seq 1 2000); do printf '  - id: m%d\n' "$i"; done;
    printf -- '---\n'; head -c 30000000 /dev/zero | tr '\0' '\n'; } >"$c/services/huge/index.mdx"
c=$(mk symlink-loop)
ln -s . "$c/services/loop"
ln -s b "$c/services/a"
ln -s a "$c/services/b"
ln -s "$c" "$c/services/good-service/up"
ln -s /nonexistent/target "$c/services/dangling"
mkdir -p "$c/services/dev-zero"
ln -s /dev/zero "$c/services/dev-zero/index.mdx"
mkdir -p "$c/services/fifo"
mkfifo "$c/services/fifo/index.mdx"
mkdir -p "$c/services/dir-named-md/index.mdx"
c=$(mk unreadable)
service "$c" locked 'owners:\n  - nobody'
chmod 000 "$c/services/locked/index.mdx"
mkdir -p "$c/services/locked-dir"
service "$c/services/locked-dir" inner
chmod 000 "$c/services/locked-dir"
event "$c" locked-schema '{"type":"object"}'
chmod 000 "$c/events/locked-schema/schema.json"
c=$(mk non-utf8-names)
mkdir -p "$c/services/caf$(printf '\351')"
printf -- '---\nid: caf\351\nname: "caf\351 \377"\nversion: 1.0.0\nsends:\n  - id: "\300\200"\n---\n' \
    >"$c/services/caf$(printf '\351')/index.mdx"
mkdir -p "$c/events/$(printf '\377\376')"
printf -- '---\nid: ev\nversion: 1.0.0\nschemaPath: "s\377.json"\n---\n' \
    >"$c/events/$(printf '\377\376')/index.mdx"
printf '{}' >"$c/events/$(printf '\377\376')/s$(printf '\377').json"
c=$(mk odd-pointers)
service "$c" odd 'sends:\n  - id: ../../etc/passwd\n    version: ">=<1"\n  - id: good-event\n    version: "^^1"\nreceives:\n  - id: ""\n  - {}\n  - 42\nspecifications:\n  - type: openapi\n    path: ../../../../../../etc/passwd\n  - path: /dev/zero\nschemaPath: /dev/zero'
mkdir -p "$c/flows/cycle"
printf -- '---\nid: cycle\nname: cycle\nversion: 1.0.0\nsteps:\n  - id: a\n    title: a\n    next_step: b\n  - id: b\n    title: b\n    next_steps: [a, b, {id: c}, 7]\n  - id: a\n  - next_step: {id: a}\n---\n' \
    >"$c/flows/cycle/index.mdx"
mkdir -p "$c/domains/self/subdomains/self"
printf -- '---\nid: self\nname: self\nversion: 1.0.0\ndomains:\n  - id: self\nservices:\n  - id: self\n---\n' \
    | tee "$c/domains/self/index.mdx" >"$c/domains/self/subdomains/self/index.mdx"

# Every case together in one catalog (folders copied, symlinks kept as they are).
all="$corpus/all"
mkdir -p "$all"
for d in "$corpus"/*/; do
    name=$(basename "$d")
    [ "$name" = all ] && continue
    mkdir -p "$all/domains/$name"
    cp -a "$d/." "$all/domains/$name/" 2>/dev/null
done
chmod 000 "$all/domains/unreadable/services/locked-dir" 2>/dev/null
if [ "$acme" = "--generate-only" ]; then
    echo "hostile catalogs: $(ls "$corpus" | wc -l) catalogs in $corpus"
    exit 0
fi

# Runs one command with a time limit; a signal, a time-out or an unexpected status fails.
out="$work/out"
run() {  # run LABEL COMMAND...
    local label="$1"
    shift
    timeout -s KILL "$limit" "$@" >"$out.stdout" 2>"$out.stderr" </dev/null
    local status=$?
    if [ "$status" -eq 137 ]; then
        fail "$label: killed after ${limit}s (or by a signal): $*"
    elif [ "$status" -gt 2 ] && [ "$status" -ne 3 ]; then
        fail "$label: exit status $status: $*"
        head -c 2000 "$out.stderr"
    elif [ "$status" -ne 0 ] && [ ! -s "$out.stdout" ] && [ ! -s "$out.stderr" ]; then
        fail "$label: exit status $status with no output: $*"
    fi
    return 0
}

for c in "$corpus"/*/; do
    c="${c%/}"
    name=$(basename "$c")
    run "$name check" "$acme" catalog check "$c"
    cp "$out.stdout" "$work/$name.check.txt"
    run "$name check json" "$acme" catalog check "$c" --format json
    run "$name graph dot" "$acme" catalog graph "$c" --format dot
    run "$name graph json" "$acme" catalog graph "$c" --format json
    run "$name graph svg" "$acme" catalog graph "$c" --format svg -o "$work/$name.svg"
    run "$name graph focus" "$acme" catalog graph "$c" --focus good-service --depth 3
    run "$name impact" "$acme" impact --catalog "$c" good-service
    run "$name impact json" "$acme" impact --catalog "$c" --format json good-service
    run "$name impact base" "$acme" impact --catalog "$c" --base "$corpus/schema-maximum-string"
done

# What must be reported, with file and JSON pointer.
expect() {  # expect CASE PATTERN
    grep -qE -- "$2" "$work/$1.check.txt" ||
        fail "$1: expected a finding matching '$2' in: $(head -c 1500 "$work/$1.check.txt")"
}
expect schema-maximum-string 'events/bad-maximum/index.mdx:[0-9]+: error \[schema/invalid\] .*/properties/a/maximum'
expect schema-openapi-ref 'schema/invalid.*#/components/schemas/X'
expect schema-deep 'schema/invalid'
expect schema-binary 'schema/invalid'
expect schema-wrong-types 'schema/invalid'
expect all 'schema/invalid.*/properties/a/maximum'


echo "hostile catalogs: $(ls "$corpus" | wc -l) catalogs, $failures failures"
[ "$failures" -eq 0 ]
