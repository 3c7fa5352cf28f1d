"""What `appliance env` and the console's Software page accept as an environment's name and as packages."""

from __future__ import annotations

import pytest

from appliance.envs import EnvError, check_name, check_requirements
from appliance.envs.environments import kernel_name


@pytest.mark.parametrize("name", ["default", "py312-ml", "r4.3", "a", "x" * 40])
def test_names_that_make_a_folder_and_a_kernel(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "../up", "Upper", "-dash", "has space", "x" * 41, "jupyter", "a/b", ".hidden"])
def test_names_refused(name: str) -> None:
    with pytest.raises(EnvError, match="is not an environment name"):
        check_name(name)


def test_the_default_environment_is_the_python3_kernel() -> None:
    assert kernel_name("default") == "python3" and kernel_name("py312-ml") == "py312-ml"


def test_requirements_are_packages_never_pip_options() -> None:
    assert check_requirements(["pandas", "numpy>=2", "scipy==1.14.1", "requests[socks]"]) == [
        "pandas", "numpy>=2", "scipy==1.14.1", "requests[socks]"]
    for bad in ("-r/etc/passwd", "--index-url=https://evil.example/", "-e.", "pandas; rm -rf /", "a b"):
        with pytest.raises(EnvError, match="is not a package requirement"):
            check_requirements([bad])
    with pytest.raises(EnvError, match="name at least one package"):
        check_requirements([])
