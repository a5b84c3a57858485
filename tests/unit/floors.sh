#!/bin/bash
# floors.sh -- the source is a house of floors (docs/architecture.md); this
# test fails when a file reaches up or sideways:
#  - every `#include "floor/x.h"` of a file in src/FLOOR/ must name a floor
#    that FLOOR may use (the table below, the same as in the architecture
#    document);
#  - a plugin (plugins/) includes only <atum/plugin.h>;
#  - no include cycle between modules (x.c/x.h count as one module), found
#    with tsort over the module graph.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
cd "$ATUM_SRCDIR" || exit 1

# floor: the floors its files may include (itself included)
declare -A may=(
    [lib]="lib"
    [core]="lib core"
    [desk]="lib core desk"
    [mail]="lib mail"
    [mailin]="lib core desk mail mailin"
    [mailout]="lib core desk mail mailout"
    [web]="lib core desk web"
    [ctl]="lib core desk mail mailin mailout web ctl"
    [atumd]="lib core desk mail mailin mailout web"
)

# "file floor included-path" for every quoted include of a source file
includes() {
    local f floor
    for f in $(find src -name '*.[ch]' | sort); do
        case $f in
            src/*/*) floor=${f#src/}; floor=${floor%%/*} ;;
            src/atumd.c) floor=atumd ;;
            *) floor=unknown ;;
        esac
        grep -oE '^#include "[^"]+"' "$f" | sed -E 's/^#include "(.*)"$/\1/' |
            while read -r inc; do echo "$f $floor $inc"; done
    done
}

upward() {
    local bad=0 f floor inc target
    while read -r f floor inc; do
        [ "$inc" = config.h ] && continue
        case $inc in
            */*) target=${inc%%/*} ;;
            *) echo "$f: #include \"$inc\" names no floor (write \"floor/$inc\")"; bad=1; continue ;;
        esac
        if [ -z "${may[$floor]+x}" ]; then
            echo "$f: is in no known floor"; bad=1
        elif ! [[ " ${may[$floor]} " == *" $target "* ]]; then
            echo "$f ($floor) includes $inc ($target): $floor may use only: ${may[$floor]}"; bad=1
        fi
    done < <(includes)
    return $bad
}
check "no file includes a header of a floor above it or of a sibling it must not know" upward

plugins_alone() {
    local bad=0 f
    [ -d plugins ] || return 0
    for f in $(find plugins -name '*.[ch]' | sort); do
        # quoted includes only of the plugin's own files and of the code
        # the plugins share (plugins/common/), never src/; a plugin's unit
        # test may include the fake host
        if grep -E '^#include "[^"]*/' "$f" | grep -vE '^#include "\.\./common/[a-z_]+\.h"$' \
            | { case "$f" in */test_*.c) grep -vE '^#include "lib/fakehost\.h"$' ;; *) cat ;; esac; } | grep .; then
            echo "$f: includes a header outside its own folder"; bad=1
        fi
    done
    return $bad
}
check "plugins include nothing of src/ (only <atum/plugin.h> and their own headers)" plugins_alone

acyclic() {
    # module = path without extension; an edge module -> included module
    includes | awk '$3 != "config.h" { m=$1; sub(/\.[ch]$/, "", m); i="src/" $3; sub(/\.h$/, "", i);
                                       if (m != i) print m, i }' | sort -u >"$T_OUT.edges"
    local out
    out=$(tsort "$T_OUT.edges" 2>&1 >/dev/null)
    rm -f "$T_OUT.edges"
    [ -z "$out" ] || { echo "$out"; return 1; }
}
check "no include cycle between modules" acyclic

finish
