"""clone.py: where a clone lands and what it records."""

from __future__ import annotations

import json

from appliance.gallery.clone import candidate_names, with_lineage


def test_a_clone_is_named_after_the_notebook_at_the_top_and_numbered_when_taken() -> None:
    assert candidate_names("studies/2025/Returns study.ipynb")[:3] == [
        "Returns study.ipynb", "Returns study (2).ipynb", "Returns study (3).ipynb"]
    assert candidate_names("analysis")[:2] == ["analysis.ipynb", "analysis (2).ipynb"]
    assert candidate_names("")[0] == "notebook.ipynb"
    assert len(candidate_names("a.ipynb")) == 100


def test_the_clone_records_the_publication_and_version_it_came_from() -> None:
    published = json.dumps({"cells": [], "metadata": {"appliance": {"showcase": True}, "kernelspec": {"name": "py"}},
                            "nbformat": 4, "nbformat_minor": 5}).encode()
    cloned = json.loads(with_lineage(published, "k3x9", 2, "Momentum"))
    assert cloned["metadata"]["appliance"]["cloned_from"] == {"publication": "k3x9", "version": 2, "title": "Momentum"}
    assert cloned["metadata"]["kernelspec"] == {"name": "py"} and cloned["metadata"]["appliance"]["showcase"]
    broken = json.loads(with_lineage(b'{"cells": [], "metadata": {"appliance": "junk"}}', "s", 1, "t"))
    assert broken["metadata"]["appliance"] == {"cloned_from": {"publication": "s", "version": 1, "title": "t"}}
