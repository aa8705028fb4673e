#!/usr/bin/env bash
# The catalog's API documents checked by their ecosystems' own tools (npm, test only): every
# OpenAPI document with `redocly lint` (errors fail, warnings are printed), every AsyncAPI
# document with @asyncapi/parser. Skipped (77) when Node or the tools are not installed.
set -uo pipefail
cd "$(dirname "$0")/.."
redocly=tools/node_modules/.bin/redocly
if ! command -v node >/dev/null || [ ! -x "$redocly" ] || [ ! -d tools/node_modules/@asyncapi/parser ]; then
    echo "node, @redocly/cli or @asyncapi/parser not installed: skipped"
    exit 77
fi
status=0
mapfile -t openapi < <(grep -rlE '^openapi: ' catalog --include='*.yml' --include='*.yaml' | sort)
mapfile -t asyncapi < <(grep -rlE '^asyncapi: ' catalog --include='*.yml' --include='*.yaml' | sort)
[ ${#openapi[@]} -gt 0 ] && [ ${#asyncapi[@]} -gt 0 ] || { echo "no API documents found"; exit 1; }
"$redocly" lint --format=stylish "${openapi[@]}" || status=1
node tests/api_documents.mjs "${asyncapi[@]}" || status=1
exit $status
