#!/usr/bin/env bash
# The script ships inside the package (plinth/tools/build-tools.sh), so an installed Plinth can
# build the tools it runs (`plinth render --engine crossplane --build`, `plinth dev up`) too.
exec bash "$(dirname "${BASH_SOURCE[0]}")/../functions/plinth/tools/build-tools.sh" "$@"
