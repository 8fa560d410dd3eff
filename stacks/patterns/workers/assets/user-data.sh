set -euo pipefail
install -d -m 0755 /opt/sqs-blueprint
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  aws s3 cp '@wheel_url@' '@wheel_path@' && break
  [ "$attempt" = 10 ] && exit 1
  sleep 6
done
dnf install -y python3.11 python3.11-pip
python3.11 -m venv /opt/sqs-blueprint/venv
/opt/sqs-blueprint/venv/bin/pip install --no-cache-dir --disable-pip-version-check '@wheel_path@'
id -u sqs-worker >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin sqs-worker
install -d -m 0755 /etc/sqs-blueprint
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
systemctl daemon-reload
systemctl enable --now sqs-blueprint-worker.service sqs-blueprint-drain-on-scale-in.service
