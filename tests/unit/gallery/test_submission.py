"""gallery/submission.py: what a publish request may carry, and what the gallery keeps of it."""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import pytest

from appliance.gallery.errors import BadRequest, TooLarge
from appliance.gallery.publish import new_slug
from appliance.gallery.submission import (
    check_tags,
    check_title,
    cloned_from,
    notebook_text,
    parse_submission,
)


def notebook(**metadata: Any) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": [
        {"id": "a", "cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "words"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 7, "source": "x = 1", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "private"}]},
        {"id": "a", "cell_type": "raw", "metadata": {}, "source": "raw text"}]}


def body(**fields: Any) -> bytes:
    return json.dumps({"notebook": notebook(), "path": "/a/b.ipynb", "title": "T", **fields}).encode()


def test_a_submission_keeps_the_notebook_compressed_with_its_text_for_search() -> None:
    submission = parse_submission(body(tags=["ML", "ml", "time-series"]), 10_000)
    kept = json.loads(submission.notebook)
    assert zlib.decompress(submission.compressed) == submission.notebook and submission.size == len(submission.notebook)
    assert submission.path == "a/b.ipynb" and submission.tags == ["ml", "time-series"]
    assert kept["cells"][1]["outputs"] and not submission.outputs_stripped
    assert submission.markdown == "# Title\nwords" and submission.code == "x = 1"
    ids = [cell["id"] for cell in kept["cells"]]
    assert ids[0] == "a" and len(set(ids)) == 3  # a missing and a repeated id are repaired, as nbformat would


def test_strip_outputs_empties_outputs_and_execution_counts() -> None:
    submission = parse_submission(body(strip_outputs=True), 10_000)
    cell = json.loads(submission.notebook)["cells"][1]
    assert submission.outputs_stripped and cell["outputs"] == [] and cell["execution_count"] is None
    assert b"private" not in submission.notebook


def test_a_notebook_over_the_limit_is_refused_naming_the_knob() -> None:
    with pytest.raises(TooLarge, match=r"is 517 bytes; .* at most 400 bytes \(gallery.max_size_bytes = 400\)"):
        parse_submission(body(), 400)


@pytest.mark.parametrize(("fields", "message"), [
    ({"title": ""}, "a title is required"),
    ({"title": 5}, "a title is required"),
    ({"title": "x" * 201}, "the title has 201 characters; at most 200"),
    ({"summary": "x" * 2001}, "at most 2000"),
    ({"tags": "ml"}, "tags must be a list of strings"),
    ({"tags": ["a b"]}, "the tag 'a b' is not allowed"),
    ({"tags": [str(i) for i in range(11)]}, "more than 10 tags were given; a publication has at most 10"),
    ({"strip_outputs": "yes"}, "strip_outputs must be true or false"),
    ({"path": ""}, "must name the notebook"),
    ({"new_version_of": 3}, "new_version_of must be null"),
    ({"notebook": "{}"}, "must be the notebook's JSON object"),
    ({"notebook": {**notebook(), "cells": [{"cell_type": "code"}]}}, "'metadata' is a required property"),
])
def test_bad_fields_are_refused_with_what_to_send(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(message)):
        parse_submission(body(**fields), 10_000)


def test_titles_lose_control_characters_and_runs_of_space_and_tags_are_lowercased() -> None:
    assert check_title(" Momentum\n\tand\x00 value ") == "Momentum and value"
    assert check_title("<script>alert(1)</script>") == "<script>alert(1)</script>"  # escaped where shown
    assert check_tags([" C++ ", "v1.2", "a-b"]) == ["c++", "v1.2", "a-b"]


def test_lineage_is_read_from_a_well_formed_cloned_from_only() -> None:
    assert cloned_from(notebook(appliance={"cloned_from": {"publication": "abc", "version": 2}})) == ("abc", 2)
    for bad in ({"publication": "abc"}, {"publication": 5, "version": 1}, {"publication": "abc", "version": True},
                {"publication": "abc", "version": 0}, "abc"):
        assert cloned_from(notebook(appliance={"cloned_from": bad})) is None
    assert cloned_from(notebook(appliance="x")) is None and cloned_from(notebook()) is None


def test_search_text_is_capped_and_loses_nul_characters() -> None:
    big = {"cells": [{"cell_type": "markdown", "source": "w " * 100_000}, {"cell_type": "code", "source": "a\x00b"}]}
    markdown, code = notebook_text(big)
    assert len(markdown) == 100_000 and code == "ab"


def test_json_nested_too_deeply_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="nests JSON too deeply"):
        parse_submission(b"[" * 200_000, 10_000_000)
    deep = '{"notebook": {"metadata": ' + '{"x": ' * 2000 + "{}" + "}" * 2002
    with pytest.raises(BadRequest, match="nests JSON too deeply"):
        parse_submission(deep.encode(), 10_000_000)


def test_slugs_are_long_lowercase_and_url_safe() -> None:
    slugs = {new_slug() for _ in range(100)}
    assert len(slugs) == 100 and all(re.fullmatch(r"[a-z2-7]{16}", slug) for slug in slugs)
