set -euo pipefail
# CloudFormation waits for this instance's signal: success only once the worker
# runs, failure (with the exit status) from any command that fails on the way.
export PATH="$PATH:/opt/aws/bin:/opt/aws/amazon-cloudwatch-agent/bin"
signal() {
  cfn-signal --stack '@stack@' --resource '@resource@' --region '@region@' --exit-code "$1" ||
    echo "cfn-signal: no stack operation waits for this instance (a scale-out); not signalled"
}
# A boot that fails also marks the instance Unhealthy, so a scale-out that no stack
# operation waits for replaces it rather than counting it in service.
cat > /usr/local/bin/sqs-blueprint-unhealthy <<'EOF'
@unhealthy_script@
EOF
chmod 0755 /usr/local/bin/sqs-blueprint-unhealthy
on_exit() {
  local status=$?
  if [ "$status" != 0 ]; then
    signal "$status"
    /usr/local/bin/sqs-blueprint-unhealthy || true
  fi
}
trap on_exit EXIT

dnf install -y python3.11 python3.11-pip aws-cfn-bootstrap amazon-cloudwatch-agent logrotate
install -d -m 0755 /opt/sqs-blueprint /var/log/sqs-blueprint /etc/sqs-blueprint /etc/logrotate.d
cat > /etc/sqs-blueprint/cloudwatch-agent.json <<'EOF'
@agent_config@
EOF
amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:/etc/sqs-blueprint/cloudwatch-agent.json
cat > /etc/logrotate.d/sqs-blueprint <<'EOF'
@logrotate@
EOF

# The bundle holds the sqs_blueprint wheel and its dependencies: no package index at boot.
# The role's policies may take a few seconds to reach S3 after the launch.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  aws s3 cp '@bundle_url@' /opt/sqs-blueprint/bundle.zip && break
  [ "$attempt" = 10 ] && exit 1
  sleep 6
done
python3.11 -m zipfile -e /opt/sqs-blueprint/bundle.zip /opt/sqs-blueprint/wheels
python3.11 -m venv /opt/sqs-blueprint/venv
/opt/sqs-blueprint/venv/bin/pip install --no-index --find-links /opt/sqs-blueprint/wheels --no-cache-dir --disable-pip-version-check sqs-blueprint
id -u sqs-worker >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin sqs-worker

cat > /etc/sqs-blueprint/worker.env <<'EOF'
@environment@
EOF
chmod 0644 /etc/sqs-blueprint/worker.env
cat > /etc/systemd/system/sqs-blueprint-worker.service <<'EOF'
@worker_unit@
EOF
cat > /usr/local/bin/sqs-blueprint-drain-on-scale-in <<'EOF'
@watcher_script@
EOF
chmod 0755 /usr/local/bin/sqs-blueprint-drain-on-scale-in
cat > /etc/systemd/system/sqs-blueprint-drain-on-scale-in.service <<'EOF'
@watcher_unit@
EOF
cat > /etc/systemd/system/sqs-blueprint-unhealthy.service <<'EOF'
@unhealthy_unit@
EOF
systemctl daemon-reload
systemctl enable --now sqs-blueprint-worker.service sqs-blueprint-drain-on-scale-in.service

# Started means active at three checks in a row, 5 s apart: a worker that exits
# at once is restarted by systemd and is not active at every check.
active=0
for _ in $(seq 1 24); do
  if systemctl is-active --quiet sqs-blueprint-worker.service; then
    active=$((active + 1))
  else
    active=0
  fi
  [ "$active" -ge 3 ] && break
  sleep 5
done
if [ "$active" -lt 3 ]; then
  echo "sqs-blueprint-worker.service did not stay active; see /var/log/sqs-blueprint/worker.log" >&2
  exit 3
fi
signal 0
