#!/usr/bin/env bash
# aggregator_oracle_3: exact rollups with 3 aggregator instance(s); see aggregator_oracle_run.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
AGG_INSTANCES=3
source "$(dirname "$0")/aggregator_oracle_run.sh"
