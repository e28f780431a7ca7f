#!/bin/sh
# Checks the dependency rules of docs/layout.md on src/ by its #include lines:
#   http/, net/, stream/ and util/ include only util/ (plus log.h, metrics.h;
#   stream/ and util/ not even those), their own folder and system headers;
#   glm/ and config.c include no api/ and no stream/ header (turn.h, the
#   neutral request, sits below glm/);
#   only api/ and main.c include app.h.
# Prints every include that breaks a rule; exits 1 if there is one.
cd "$(dirname "$0")/.." || exit 2
bad=0
# check FILE ALLOWED-REGEX: every quoted include of FILE must match the regex.
check() {
    grep -Hn '^#include "' "$1" | while IFS= read -r line; do
        inc=${line#*#include \"}
        inc=${inc%%\"*}
        printf '%s\n' "$inc" | grep -Eq "$2" || echo "layers: $line"
    done
}
out=$(
    for f in src/util/*.[ch]; do check "$f" '^util/'; done
    for f in src/stream/*.[ch]; do check "$f" '^(util|stream)/'; done
    for f in src/http/*.[ch]; do check "$f" '^(util|http)/|^(log|metrics)\.h$'; done
    for f in src/net/*.[ch]; do check "$f" '^(util|net)/|^(log|metrics)\.h$'; done
    for f in src/glm/*.[ch] src/config.[ch]; do check "$f" '^(util|net|glm)/|^(log|metrics|config|turn)\.h$'; done
    for f in src/turn.[ch]; do check "$f" '^util/|^turn\.h$'; done
    grep -ln '^#include "app.h"' -r src | grep -Ev '^src/(api/|main\.c$)' | sed 's/^/layers: reads app: /'
)
[ -n "$out" ] && { printf '%s\n' "$out"; bad=1; }
[ $bad -eq 0 ] && echo "layers: the dependency rules hold"
exit $bad
