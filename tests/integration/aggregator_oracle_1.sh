#!/usr/bin/env bash
# aggregator_oracle_1: exact rollups with 1 aggregator instance(s); see aggregator_oracle_run.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
AGG_INSTANCES=1
source "$(dirname "$0")/aggregator_oracle_run.sh"
