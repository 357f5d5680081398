#!/bin/sh
# One-shot after every deploy: the `remediate` pool with the warm launcher as its job
# command, every deployment of prefect.yaml, and the default result storage
# (REMEDIATE_RESULTS_URL; docs/production.md).
set -eu
cd /opt/remediate
python -c 'import json, sys
from remediate.devstack.workers import base_job_template, job_command
json.dump(base_job_template(job_command(True, "python")), sys.stdout)' > /tmp/work-pool.json
prefect work-pool create remediate --type process --base-job-template /tmp/work-pool.json --overwrite
prefect --no-prompt deploy --all
remediate result-storage
