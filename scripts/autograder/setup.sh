#!/usr/bin/env bash
# Gradescope runs this once, as root in /autograder/source, when it builds the autograder's
# image. It installs what numpyvae and its tests need, as setup.cfg asks, and nothing else.
# (scripts/make_assignment.py fills in the requirements from setup.cfg.)
set -euo pipefail

if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update
    apt-get install -y python3 python3-pip
fi
# PIP_BREAK_SYSTEM_PACKAGES lets pip install into the image's own Python on images that
# mark it as managed by apt (Ubuntu 23.04 and later); older pips ignore it.
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir @REQUIREMENTS@
