#!/usr/bin/env bash
# `acme impact --base` golden cases: copies catalog/ to a temporary folder, applies one change,
# and compares the checklist of the change with tests/golden/impact-base-CASE.md.
#   impact_base.sh ACME CASE
# Cases: schema-required-removed (through a git revision), new-consumer, step-repointed,
# service-removed.
set -euo pipefail
acme="$1"
case_name="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/catalog" "$work/catalog"
cat="$work/catalog"
base="$root/catalog"
case "$case_name" in
schema-required-removed)
    # Committed to a throwaway git repository, so --base takes a revision.
    git -C "$work" init -q
    git -C "$work" add catalog
    git -C "$work" -c user.name=acme -c user.email=acme@example.invalid commit -qm base
    base=HEAD
    f="$cat/domains/ordering/commands/reserve-inventory/schema.json"
    # The required property "items" is removed (from "required" and "properties"); the
    # version stays 1.0.0.
    sed -i '9s/"checkoutId",/"checkoutId"/; 10{/"items"/d}' "$f"
    awk '/^    "checkoutId": \{$/ {in_id=1} in_id && /^    },$/ {print "    }"; in_id=0; next}
         /^    "items": \{$/ {skip=1} skip { if ($0 ~ /^    }$/) skip=0; next } {print}' "$f" >"$f.new"
    mv "$f.new" "$f"
    ;;
new-consumer)
    f="$cat/domains/fulfilment/services/warehouse-service/index.mdx"
    sed -i 's/^receives:$/receives:\n  - id: payment-authorized\n    version: 1.0.0/' "$f"
    ;;
step-repointed)
    f="$cat/domains/ordering/flows/checkout-saga/index.mdx"
    # Step release-inventory now points at cancel-order instead of release-inventory.
    awk '/^  - id: release-inventory$/ {inside=1} inside && /^      id: release-inventory$/ {sub("release-inventory", "cancel-order"); inside=0} {print}' "$f" >"$f.new"
    mv "$f.new" "$f"
    ;;
service-removed)
    rm -rf "$cat/domains/payments/services/payment-service"
    ;;
*)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac
extra=()
[ -n "${FAIL_ON:-}" ] && extra=(--fail-on "$FAIL_ON")
exec "$root/tests/golden.sh" "$root/tests/golden/impact-base-$case_name.md" "${EXPECTED_EXIT:-0}" \
    "$acme" impact --catalog "$cat" --base "$base" "${extra[@]}"
