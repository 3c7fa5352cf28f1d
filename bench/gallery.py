"""The gallery's speed on a real appliance.

1. Publish → visible, for a 50 KB and a 5 MB notebook with plots: from the publish call (the portal's API,
   as a member's server makes it) until the publication page shows the finished render. Baseline, in the
   same run: `jupyter nbconvert --to html` of the same file. Goal: ≤ 1.5× the baseline.
2. With 10,000 publications: the gallery page, a search and a publication page, p50/p99 over sequential
   requests of a signed-in member. Baseline, in the same run: the portal's /healthz. Goal: p99 ≤ 100 ms.

Usage: .venv/bin/python bench/gallery.py [--rounds N] [--requests N] [--publications N]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import Appliance, make_home, mint_storage_token, reserve_ports, resolve_localhost_names  # noqa: E402
from tests.integration.oauth import add_user, browser_client, sign_in  # noqa: E402

WORDS = ["alpha", "beta", "volatility", "momentum", "regression", "factor", "portfolio", "returns", "sharpe",
         "drawdown", "kalman", "spectral", "bayesian", "bootstrap", "residual", "lattice", "entropy", "gradient",
         "cohort", "survival", "quantile"]


def plot_png(seed: int, width: int = 640, height: int = 400) -> str:
    """A plot-like PNG (axes, a noisy line and a noisy background, so it does not compress away), base64."""
    import base64

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3)).point(lambda v: 200 + v // 5)
    draw = ImageDraw.Draw(image)
    draw.line([(40, height - 30), (width - 10, height - 30)], fill="black", width=2)
    draw.line([(40, 10), (40, height - 30)], fill="black", width=2)
    y = height / 2
    points = []
    for x in range(40, width - 10, 4):
        y = min(height - 40, max(20, y + rng.gauss(0, 8)))
        points.append((x, y))
    draw.line(points, fill=(31, 119, 180), width=2)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def notebook_with_plots(size: int) -> dict[str, Any]:
    """A notebook of about ``size`` bytes: markdown with a formula, code, and a plot output per code cell."""
    intro = "# Momentum study\n\nWe fit $r_t = \\alpha + \\beta m_{t-1} + \\epsilon_t$."
    cells: list[dict[str, Any]] = [{"cell_type": "markdown", "id": "intro", "metadata": {}, "source": intro}]
    total, index = 0, 0
    while total < size:
        png = plot_png(index, 100, 64) if size < 200_000 else plot_png(index)
        source = f"fig, ax = plt.subplots()\nax.plot(returns[{index}])\nax.set_title('window {index}')\n"
        cells.append({"cell_type": "code", "execution_count": index + 1, "id": f"c{index}", "metadata": {},
                      "source": source, "outputs": [
                          {"output_type": "display_data", "metadata": {},
                           "data": {"image/png": png, "text/plain": "<Figure size 640x400 with 1 Axes>"}}]})
        total += len(png) + len(source) + 200
        index += 1
    cells[1]["metadata"]["appliance"] = {"showcase": True}
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def publish_until_visible(portal: str, token: str, page: httpx.Client, notebook: dict[str, Any], title: str) -> float:
    """Seconds from the publish call until the publication page shows the finished render."""
    began = time.perf_counter()
    answer = httpx.post(f"{portal}/api/gallery/v1/publications", headers={"Authorization": f"Bearer {token}"},
                        json={"notebook": notebook, "path": f"{title}.ipynb", "title": title, "summary": "bench",
                              "tags": ["bench"], "visibility": "lab", "strip_outputs": False,
                              "new_version_of": None}, timeout=300)
    if answer.status_code != 201:
        raise SystemExit(f"publish: {answer.status_code} {answer.text[:300]}")
    slug = answer.json()["slug"]
    while True:
        state = httpx.get(f"{portal}/api/gallery/v1/publications/{slug}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        if state["state"] == "done":
            break
        if state["state"] == "failed":
            raise SystemExit(f"render failed: {state.get('error')}")
        time.sleep(0.02)
    shown = page.get(f"/gallery/p/{slug}")
    if shown.status_code != 200 or title not in shown.text:
        raise SystemExit(f"the publication page of {slug}: {shown.status_code}")
    return time.perf_counter() - began


def nbconvert_seconds(notebook: dict[str, Any]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.ipynb"
        path.write_text(json.dumps(notebook))
        began = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "jupyter"), "nbconvert", "--to", "html", str(path)],
                       check=True, capture_output=True)
        return time.perf_counter() - began


def seed(database_url: str, count: int, author: str) -> list[str]:
    """``count`` finished publications, written straight into the gallery's tables (the bench measures
    reading them). Returns their slugs."""
    rng = random.Random(7)
    notebook = zlib.compress(json.dumps(notebook_with_plots(2_000)).encode())
    slugs = []
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        with cursor.copy("COPY gallery.publications (slug, author, source_path, title, summary, tags, visibility, "
                         "views, clones, created_at, updated_at) FROM STDIN") as copy:
            for number in range(count):
                words = rng.sample(WORDS, 6)
                slug = f"bench{number:06d}"
                slugs.append(slug)
                title = f"{words[0].title()} {words[1]} study {number}"
                summary = " ".join(rng.choices(WORDS, k=20))
                created = f"2026-{1 + number % 11:02d}-{1 + number % 28:02d} 12:00:00+00"
                copy.write_row((slug, author, f"{slug}.ipynb", title, summary, words[2:5], "lab",
                                rng.randrange(500), rng.randrange(50), created, created))
        cursor.execute("UPDATE gallery.publications SET document = setweight(to_tsvector('english', title), 'A') "
                       "|| setweight(to_tsvector('english', array_to_string(tags, ' ')), 'A') "
                       "|| setweight(to_tsvector('english', summary), 'B') WHERE slug LIKE 'bench%%'")
        cursor.execute(
            "INSERT INTO gallery.versions (publication_id, number, notebook, size, sha256, search_text, html, "
            "preview_html, rendered_at) SELECT id, 1, %s, 2000, '\\x00', summary || ' ' || title, %s, "
            "'<p>' || summary || '</p>', now() FROM gallery.publications WHERE slug LIKE 'bench%%'",
            (notebook, zlib.compress(b"<html><body>rendered</body></html>")))
        cursor.execute("INSERT INTO gallery.render_jobs (version_id, state, finished_at) "
                       "SELECT v.id, 'done', now() FROM gallery.versions v JOIN gallery.publications p "
                       "ON p.id = v.publication_id WHERE p.slug LIKE 'bench%%'")
        cursor.execute("ANALYZE")
    return slugs


def latencies(client: httpx.Client, paths: Callable[[int], str], requests: int) -> list[float]:
    samples = []
    for number in range(requests):
        began = time.perf_counter()
        answer = client.get(paths(number))
        samples.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"GET {paths(number)}: {answer.status_code}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="publishes per notebook size (default 3)")
    parser.add_argument("--requests", type=int, default=300, help="requests per page measured (default 300)")
    parser.add_argument("--publications", type=int, default=10_000, help="publications seeded (default 10,000)")
    arguments = parser.parse_args()
    resolve_localhost_names()  # the trial names (lab.localhost), as browsers resolve them

    resolve_localhost_names()  # the trial names (lab.localhost), as browsers resolve them
    appliance = Appliance(make_home(), reserve_ports(4))
    try:
        appliance.up()
        password = add_user(appliance, "ada")
        token = mint_storage_token(appliance, "ada")
        portal = appliance.portal_url
        page = browser_client(base_url=appliance.public_portal_url)
        assert sign_in(page, appliance.public_portal_url, "ada", password).status_code == 303

        print("Publish → visible (the publication page shows the finished render), median of "
              f"{arguments.rounds}; baseline: jupyter nbconvert --to html of the same file")
        print(f"{'notebook':<22} {'publish→visible s':>18} {'nbconvert s':>12} {'ratio':>7}")
        for label, size in (("50 KB with plots", 50_000), ("5 MB with plots", 5_000_000)):
            notebook = notebook_with_plots(size)
            actual = len(json.dumps(notebook))
            published = [publish_until_visible(portal, token, page, notebook, f"bench {label} {n}")
                         for n in range(arguments.rounds)]
            converted = [nbconvert_seconds(notebook) for _ in range(arguments.rounds)]
            ours, theirs = statistics.median(published), statistics.median(converted)
            print(f"{label + f' ({actual / 1e6:.2f} MB)':<22} {ours:>18.2f} {theirs:>12.2f} {ours / theirs:>6.2f}×")

        libpq = make_url(appliance.database_url()).set(drivername="postgresql")  # psycopg's own form of the URL
        slugs = seed(libpq.render_as_string(hide_password=False), arguments.publications, "ada")
        print(f"\nWith {arguments.publications:,} publications, {arguments.requests} sequential requests each "
              "(a signed-in member); baseline: /healthz")
        print(f"{'page':<34} {'p50 ms':>8} {'p99 ms':>8} {'p99 / baseline p99':>19}")
        base = latencies(page, lambda n: "/healthz", arguments.requests)
        rows = [
            ("gallery page (newest)", lambda n: f"/gallery?page={1 + n % 20}"),
            ("gallery sorted by most cloned", lambda n: "/gallery?sort=clones"),
            ("search (one word)", lambda n: f"/gallery?q={WORDS[n % len(WORDS)]}"),
            ("search (two words)", lambda n: f"/gallery?q={WORDS[n % len(WORDS)]}+{WORDS[(n + 3) % len(WORDS)]}"),
            ("tag filter", lambda n: f"/gallery?tag={WORDS[n % len(WORDS)]}"),
            ("publication page", lambda n: f"/gallery/p/{slugs[(n * 7919) % len(slugs)]}"),
        ]
        print(f"{'baseline: /healthz':<34} {statistics.median(base):>8.1f} {p(base, 0.99):>8.1f}")
        for label, paths in rows:
            samples = latencies(page, paths, arguments.requests)
            print(f"{label:<34} {statistics.median(samples):>8.1f} {p(samples, 0.99):>8.1f} "
                  f"{p(samples, 0.99) / p(base, 0.99):>18.1f}×")
    finally:
        appliance.terminate()


if __name__ == "__main__":
    main()
