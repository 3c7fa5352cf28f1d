"""The wheel's build step beyond setuptools' own: JupyterLab's gallery extension built from
webui/labextension and shipped prebuilt (webui/labextensions/), with the gallery's render assets
(webui/gallery-assets/), so a lab machine installing the wheel never compiles it. Everything else is in
pyproject.toml."""

import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUILD = Path(__file__).resolve().parent / "webui" / "labextension" / "build.py"


class BuildPyWithLabExtension(build_py):
    def run(self) -> None:
        build = runpy.run_path(str(BUILD))
        try:
            build["build"]()
        except build["BuildError"] as error:
            raise SystemExit(str(error)) from None
        super().run()


setup(cmdclass={"build_py": BuildPyWithLabExtension})
