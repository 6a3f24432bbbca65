"""scripts/engine itself: when no engine can be started it says so in ONE line and fails."""

import subprocess

from stack import ROOT


def test_no_engine_is_one_line_and_exit_1():
    p = subprocess.run([str(ROOT / "scripts/engine"), "true"], capture_output=True, text=True,
                       timeout=120, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "ENGINE_DOCKERD": "/bin/false",
                                         "ENGINE_CACHE": str(ROOT / ".cache/engine")})
    assert p.returncode == 1, p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("engine: no Docker engine could be started"), p.stderr
