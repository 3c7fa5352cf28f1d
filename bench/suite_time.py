"""The test suite's time against an older commit's, measured in the same run, one after the other.

Baseline: the older commit's own test command (`CI=true tests/run`, which prepares its own venv) on a
clean clone of it. Then this checkout's pytest on the tests of the same names: the tests the baseline had,
wherever they live now (tests moved between modules and tiers keep their names). Prints pytest's time for
each, the counts, and the ratio; both runs' output goes to baseline.log and head.log in the work folder.
Run it alone on the box: both sides start real services on its 2 cores.

Issue 15's figure: the suite was timed at 13 minutes at f4b650c, the default baseline.
Usage: .venv/bin/python bench/suite_time.py [--baseline COMMIT] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def junit(path: Path) -> tuple[float, dict[str, str]]:
    """pytest's time in a junit file, and its tests: name (without parameters) -> outcome."""
    suite = ElementTree.parse(path).getroot().find("testsuite")
    assert suite is not None, f"{path} is not pytest's junit file"
    outcomes = {}
    for case in suite.iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[case.get("name", "")] = "failed" if failed else "passed"
    return float(suite.get("time", "0")), outcomes


def base_name(test: str) -> str:
    return test.split("[", 1)[0]


def run_baseline(commit: str, work: Path) -> tuple[float, dict[str, str]]:
    clone = work / "baseline"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", commit], check=True)
    report = work / "baseline.xml"
    print(f"baseline {commit}: its own test command on a clean clone ({clone})", flush=True)
    with open(work / "baseline.log", "wb") as log:
        subprocess.run(["tests/run", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"], cwd=clone,
                       env={**os.environ, "CI": "true"}, stdout=log, stderr=subprocess.STDOUT, check=False)
    return junit(report)


def same_named_tests(names: set[str]) -> list[str]:
    """This checkout's node ids whose test function the baseline had."""
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                               cwd=REPO, capture_output=True, text=True, check=True).stdout
    ids = [line for line in collected.splitlines() if "::" in line]
    return [node for node in ids if base_name(node.rsplit("::", 1)[1]) in names]


def run_head(node_ids: list[str], work: Path) -> tuple[float, dict[str, str]]:
    report = work / "head.xml"
    print(f"this checkout: pytest on the {len(node_ids)} tests of the same names", flush=True)
    with open(work / "head.log", "wb") as log:
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                        *node_ids], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=False)
    return junit(report)


def summary(label: str, seconds: float, outcomes: dict[str, str]) -> str:
    failed = sum(outcome == "failed" for outcome in outcomes.values())
    return f"{label}: {len(outcomes)} tests ({failed} failed) in {seconds:.0f} s ({seconds / 60:.1f} min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="f4b650c", help="the older commit (default: %(default)s)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="suite-time-") as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        baseline_s, baseline = run_baseline(args.baseline, work)
        head_s, head = run_head(same_named_tests({base_name(name) for name in baseline}), work)
    print(summary(f"baseline {args.baseline}", baseline_s, baseline))
    print(summary("this checkout, the same tests", head_s, head))
    gone = {base_name(name) for name in baseline} - {base_name(name) for name in head}
    if gone:
        print(f"not found here by name (renamed or removed): {', '.join(sorted(gone))}")
    print(f"ratio (this checkout / baseline): {head_s / baseline_s:.2f}")


if __name__ == "__main__":
    main()
