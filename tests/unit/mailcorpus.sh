#!/bin/bash
# mailcorpus.sh -- the mail corpus figures as a gate: every mail of
# tests/data/mail (and of the shared developer corpus, ../shared/testdata/mail
# beside the repository, when it is there) read with `atumctl parse` (the
# same mail_parse() and summary the ingest stores) and compared with its
# EXPECT.tsv by tests/mailscore.py.  Fails when messages right or robots
# right drop below the goal of issue 11 (97 %) or any mail fails to read.
# ATUM_SHARED_MAIL_TESTDATA names another folder for the second corpus.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
exec 3>&1                    # check() swallows output; the figures go here
W=$(mktemp -d /tmp/atum-mailcorpus.XXXXXX)
trap 'rm -rf "$W"' EXIT
printf '[core]\nsecret_key = corpus-check\n' >"$W/atum.conf"
CTL=$ATUM_BUILDDIR/atumctl
GOAL=97

score() {   # score DIR: prints the mismatches, the figures to fd 3
    /usr/bin/python3 "$ATUM_SRCDIR/tests/mailscore.py" --min "$GOAL" "$1" parse "$CTL" "$W/atum.conf" >"$W/out" 2>&1
    local rc=$?
    cat "$W/out"
    grep -E '^mails=' "$W/out" | sed "s|^|    $(basename "$(dirname "$1")")/$(basename "$1") |" >&3
    return $rc
}

check "atumctl is built" test -x "$CTL"
check "tests/data/mail: messages and robots right >= $GOAL %, none failed" score "$ATUM_MAIL_TESTDATA"
shared=${ATUM_SHARED_MAIL_TESTDATA:-$ATUM_SRCDIR/../shared/testdata/mail}
if [ -f "$shared/EXPECT.tsv" ]; then
    check "shared developer corpus: messages and robots right >= $GOAL %, none failed" score "$shared"
else
    echo "note: no shared corpus at $shared: skipped"
fi
finish
