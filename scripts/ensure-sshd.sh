#!/bin/sh
# Prepare this machine for the SSH tests (the ocore_ssh.testing kit); idempotent and quick.
#
# - installs Debian's openssh-server when /usr/sbin/sshd is missing (the package's own
#   service is never started by us and its config is never touched: tests run their own
#   sshd on 127.0.0.1 with a private config);
# - makes sure the privilege separation directory /run/sshd exists;
# - creates the unprivileged test user "ocore-sshtest" (home dir, /bin/sh).
#
# TEST-ONLY CREDENTIAL: the test user's password is the fixed value below. It exists only
# so the tests can exercise password authentication against a loopback-only sshd; never
# reuse it, never run this on a machine reachable by others.
# Must run as root (CI runs as root).
set -eu

TEST_USER="${OCORE_SSHTEST_USER:-ocore-sshtest}"
TEST_PASSWORD="${OCORE_SSHTEST_PASSWORD:-ocore-test-only-pw}"

if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-sshd.sh: must run as root" >&2
    exit 1
fi

if [ ! -x /usr/sbin/sshd ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # policy-rc.d 101 stops the package's maintainer scripts from starting the service.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
    if [ "$created_policy" -eq 1 ]; then
        rm -f "$policy"
    fi
fi

if [ ! -d /run/sshd ]; then
    mkdir -p /run/sshd
    chmod 755 /run/sshd
fi

if ! id "$TEST_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/sh "$TEST_USER"
    echo "$TEST_USER:$TEST_PASSWORD" | chpasswd
fi

exit 0
