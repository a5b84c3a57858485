#!/bin/bash
# web_files.sh -- every source file of the browser side (web/) is in the
# distribution: named in Makefile.am's DESK_WEB_FILES (or its EXTRA_DIST),
# so `make dist` ships it and the web build from a tarball finds it.  A
# file added under web/ and forgotten there fails here, in `make check`,
# instead of in distcheck's build.  In a git checkout the tracked files
# are checked; in an unpacked tarball, the files that are there.
set -u
S=${ATUM_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
pass=0; fail=0
if [ -d "$S/.git" ] && command -v git >/dev/null; then
    files=$(git -C "$S" ls-files web)
else
    files=$(cd "$S" && find web -type f ! -path 'web/npm/*' ! -path 'web/dist/*' ! -path 'web/dist.tmp-*' | sort)
fi
listed=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$S/Makefile.am" | grep -E '^(DESK_WEB_FILES|EXTRA_DIST) *\+?=' | tr -s ' \t' '\n')
for f in $files; do
    if grep -qxF "$f" <<<"$listed"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1)); echo "FAIL: $f is not in Makefile.am's DESK_WEB_FILES: make dist would leave it out"
    fi
done
[ "$pass" -gt 10 ] || { fail=$((fail + 1)); echo "FAIL: only $pass web files found under $S/web"; }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
