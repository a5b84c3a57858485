# build-aux/run-plugins.sh -- the demo's plugins for ./run.sh (sourced).
#
#   run_plugins_enable CONF
#       Adds [plugin.triage], [plugin.rag] and [plugin.smartreply] to the
#       configuration when it has no section of that name yet and the
#       plugin is built (linked into var/plugins by run_plugins_link): the
#       local path, no language model.  A section an admin wrote or
#       removed-and-disabled (enabled = no) is left alone.
#   run_plugins_seed SHARED
#       With the shared test data (SHARED/testdata, optional): trains
#       triage's local models from tickets.tsv and tweets.tsv and imports
#       the KB articles -- each only while there is nothing yet.  Needs
#       ATUM_CONFIG and the database migrated.

run_plugins_enable() {
    local conf=$1 dir name added=""
    dir=$(run_conf_get "$conf" core plugin_dir)
    for name in triage rag smartreply; do
        [ -e "$dir/$name.so" ] || continue
        grep -q "^[[:space:]]*\[plugin\.$name\]" "$conf" && continue
        {
            echo ""
            echo "# added by run.sh: the $name plugin, local path (see README \"triage, rag and smartreply\";"
            echo "# llm = ollama | openai, llm_url, llm_model ... point it at a language model)"
            echo "[plugin.$name]"
            [ "$name" != triage ] && echo "public_url = $(run_conf_get "$conf" core public_url)"
        } >>"$conf"
        added="$added $name"
    done
    [ -n "$added" ] && echo "==> $conf: plugins enabled (local path):$added"
    return 0
}

run_plugins_seed() {
    local shared=$1 ctl=./atumctl tmp
    [ -d "$shared/testdata" ] || return 0
    if "$ctl" plugins 2>/dev/null | grep -q '^triage ' && [ -f "$shared/testdata/triage/tickets.tsv" ] &&
       [ "$(q "SELECT count(*) FROM triage_models" 2>/dev/null || echo x)" = 0 ]; then
        echo "==> training triage's local models from $shared/testdata/triage (once)"
        tmp=$(mktemp)
        { cat "$shared/testdata/triage/tickets.tsv"; tail -n +2 "$shared/testdata/triage/tweets.tsv"; } >"$tmp"
        "$ctl" triage train "$tmp" | sed 's/^/    /' || echo "    (training failed; triage runs with rules and language only)"
        rm -f "$tmp"
    fi
    if "$ctl" plugins 2>/dev/null | grep -q '^rag ' && [ -d "$shared/testdata/kb/articles" ] &&
       [ "$(q "SELECT count(*) FROM kb_articles" 2>/dev/null || echo x)" = 0 ]; then
        echo "==> importing the knowledge base from $shared/testdata/kb/articles (once)"
        "$ctl" kb import "$shared/testdata/kb/articles" | sed 's/^/    /' || true
    fi
    return 0
}
