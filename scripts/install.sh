#!/usr/bin/env bash
# Install what nbdock needs on a Debian or Ubuntu machine, as root (a root shell, or sudo):
#   scripts/install.sh           the tour's and the notebooks' needs: the kernel-facing tools (apt),
#                                and nbdock in the project's virtual environment .venv
#   scripts/install.sh --tests   also what only the tests use: the reference Docker engine, a registry,
#                                etcd, docker-compose, chromium, rootless tools, and pytest & co. in .venv
# nbdock goes into .venv (made with this machine's python3), never into the system Python: Debian 12's
# is "externally managed" (PEP 668) and refuses pip installs.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the tour and the notebooks need.
tour_packages=(
    busybox-static   # the embedded default image: busybox made from the host's static binary
    iproute2         # `ip`, to look at what nbdock's netlink calls did
    iptables         # published ports and bridge forwarding rules
    procps           # `ps`, which `docker top` runs
    tini             # docker-init (a static tini) for `run --init`
    uidmap           # newuidmap/newgidmap: user namespaces with subordinate ids (--userns-remap, rootless)
    git              # git build contexts
    python3-venv     # `python3 -m venv` (Debian's python3 has no ensurepip without it)
)
# What only the tests need, on top.
test_packages=(
    docker.io        # the reference engine the differential tests compare against
    docker-registry  # a local OCI registry for push/pull tests and the registry tutorial
    etcd-server      # etcd 3.4: the cluster store of overlay networks (--cluster-store etcd://...)
    docker-compose   # the real compose client (1.29), run against nbdock by %%compose and the compose scenarios
    chromium         # the browser check of the notebook widgets
    slirp4netns      # the rootless daemon's network (user-mode networking into its namespace)
    fuse-overlayfs   # the rootless daemon's image layers where the kernel's overlayfs is not allowed
)

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    echo "Options: --tests (the tests' needs too), --print-packages (list the apt packages and stop), --help"
}

tests=no
print_only=no
for argument in "$@"; do
    case $argument in
        --tests) tests=yes ;;
        --print-packages) print_only=yes ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $argument" >&2; usage >&2; exit 2 ;;
    esac
done

packages=("${tour_packages[@]}")
[ $tests = yes ] && packages+=("${test_packages[@]}")
if [ $print_only = yes ]; then
    printf '%s\n' "${packages[@]}"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "nbdock makes namespaces, mounts and cgroups: run this as root (a root shell, or: sudo $0 $*)" >&2
    exit 1
fi

missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install.sh: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # apt's own messages stay visible (-q only shortens its progress): a failure must say why.
    # A machine whose package lists were never fetched (a fresh container) gets them once.
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
        echo "install.sh: apt-get install failed; fetching the package lists (apt-get update) and trying again"
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
fi

# The project's virtual environment, made with the machine's python3 (no --system-site-packages:
# what nbdock needs is pinned by pyproject.toml, not by whatever the system happens to have).
if [ ! -x .venv/bin/python ]; then
    echo "install.sh: making the virtual environment .venv with $(command -v python3) ($(python3 --version))"
    rm -rf .venv   # a half-made one (python3-venv was missing, say)
    python3 -m venv .venv
    echo '*' > .venv/.gitignore   # git ignores the environment (as Python 3.13's venv does by itself)
fi
# nbdock itself (editable: the clone's code is what runs), and Jupyter for the notebooks; the tests'
# extras (pytest, nbclient, playwright...) only with --tests.
# Editable, so a change to the code needs no new install; a change to pyproject.toml's dependencies
# does: the stamp file holds the pyproject.toml its install was made from.
extras="" stamp=.venv/.installed-for-tour
[ $tests = yes ] && extras="[dev]" stamp=.venv/.installed-for-tests
if cmp -s pyproject.toml "$stamp" || { [ $tests = no ] && cmp -s pyproject.toml .venv/.installed-for-tests; }; then
    echo "install.sh: nbdock$extras is already installed in .venv"
else
    echo "install.sh: installing nbdock$extras and jupyterlab into .venv (pip)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$extras" "jupyterlab>=4.0"
    cp pyproject.toml "$stamp"
fi

cat <<EOF
install.sh: done.  nbdock is installed in $(pwd)/.venv; use it as root, either directly:
    .venv/bin/jupyter lab --allow-root notebooks/    # the tutorials
    .venv/bin/nbdock run --rm busybox echo hello
or after activating the environment in your shell:  . .venv/bin/activate  (then: nbdock ..., jupyter lab notebooks/)
EOF
