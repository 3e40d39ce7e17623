#!/usr/bin/env bash
# Set up a fresh machine for Runtime Hub: a virtualenv in .venv with the project (editable) and
# its dev tools. Safe to run again; it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
CI=${CI:-}  # CI=true (as CI services set it): a missing tool is an error, not a skipped test

# Extras to install: the run command needs only the core; the test command adds desktop and OCR.
extras=${HUB_EXTRAS:-dev}

# Debian packages the desktop family and its tests need: a virtual X display, tools to drive and
# inspect it, the tesseract OCR engine, and a font the test window renders with.
need=()
case ",$extras," in
  *,desktop,* | *,ocr,*)
    command -v Xvfb >/dev/null || need+=(xvfb)
    command -v xdpyinfo >/dev/null || need+=(x11-utils)
    command -v xdotool >/dev/null || need+=(xdotool)
    command -v tesseract >/dev/null || need+=(tesseract-ocr)
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
    ;;
esac
# The test suite's real `ray up` (tests/cluster/test_ray_up.py) reaches this machine over SSH.
case ",$extras," in
  *,dev,*)
    command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
    command -v rsync >/dev/null || need+=(rsync)
    command -v ip >/dev/null || need+=(iproute2)
    # The web console's browser tests (tests/e2e/test_console*.py) drive Debian's Chromium.
    command -v chromium >/dev/null || need+=(chromium)
    ;;
esac
# Prometheus scrapes the runtime's metrics (`hub metrics prometheus`, docs/metrics.md): the test
# suite starts a real one; HUB_PROMETHEUS=1 asks for it without the dev tools.
if [[ ",$extras," == *,dev,* || "${HUB_PROMETHEUS:-}" == 1 ]]; then
  command -v prometheus >/dev/null || need+=(prometheus)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  elif [[ "${CI,,}" =~ ^(1|true|yes)$ ]]; then
    # Under CI a missing tool must not turn into skipped tests and a green run.
    echo "error: CI=true and these Debian packages are missing: ${need[*]}" >&2
    echo "  .ci/setup.sh runs as user $(id -un), not root, so it cannot install them;" >&2
    echo "  install them as root (apt-get install ${need[*]}) or run this as root." >&2
    exit 1
  else
    echo "missing Debian packages (install them as root): ${need[*]}" >&2
    echo "  the tests that need them will skip (under CI=true they fail)" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.runtime-hub-setup
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c "import hub" 2>/dev/null; then
  # pip warns about package-index mirrors this machine kind configures but does not have.
  quiet_pip() { .venv/bin/python -m pip "$@" 2> >(grep -v "is neither a file nor a directory" >&2); }
  quiet_pip install --quiet --upgrade pip
  quiet_pip install --quiet -e ".[$extras]"
  echo "$want" > "$stamp"
fi
