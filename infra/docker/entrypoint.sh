#!/bin/sh
# Compose secrets arrive as files under /run/secrets, each named after the variable it
# holds (its `target`); export them, then hand over to the Prefect image's entrypoint.
# Kubernetes passes Secrets as variables instead, and this finds no file.
set -eu
if [ -d /run/secrets ]; then
    for file in /run/secrets/*; do
        [ -f "$file" ] || continue
        name=$(basename "$file")
        case "$name" in
            *[!A-Z0-9_]*) continue ;;
        esac
        value=$(cat "$file")
        export "$name=$value"
    done
fi
exec /opt/prefect/entrypoint.sh "$@"
