"""The members' software: shared Python environments, each a kernel in every member's JupyterLab
(environments.py says how)."""

from __future__ import annotations

from appliance.envs.environments import DEFAULT, EnvError, Environment, Environments, check_name, check_requirements

__all__ = ["DEFAULT", "EnvError", "Environment", "Environments", "check_name", "check_requirements"]
