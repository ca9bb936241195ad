#!/usr/bin/env bash
# The working tree a device call sends must be under 64 MiB; the bundled weights are 160 MB.
#   scripts/device_tree.sh trim      the .pt files leave the index and are ignored (they stay on disk)
#   scripts/device_tree.sh restore   back as they were: run it before any commit
set -euo pipefail
cd "$(dirname "$0")/.."
pattern="/ldmrsic_core/weights/*.pt"
exclude="$(git rev-parse --git-path info/exclude)"
case "${1:-}" in
    trim)
        git rm -q --cached --ignore-unmatch ldmrsic_core/weights/*.pt
        grep -qxF "$pattern" "$exclude" 2>/dev/null || echo "$pattern" >> "$exclude"
        echo "trimmed: $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes tracked;" \
             "run scripts/device_tree.sh restore before committing" ;;
    restore)
        git reset -q HEAD -- ldmrsic_core/weights
        if [ -f "$exclude" ]; then grep -vxF "$pattern" "$exclude" > "$exclude.new" || true; mv "$exclude.new" "$exclude"; fi
        git status --short -- ldmrsic_core/weights ;;
    *) echo "usage: scripts/device_tree.sh trim|restore" >&2; exit 2 ;;
esac
