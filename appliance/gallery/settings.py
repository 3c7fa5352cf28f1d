"""[gallery]: what members may publish, and how the renderer treats it."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.knobs import knob


@dataclass(frozen=True)
class GallerySettings:
    """[gallery] Publishing notebooks, rendering them, and showing them to the lab."""

    max_size_bytes: int = knob(
        25_000_000, "Largest notebook (.ipynb, in bytes) a member may publish; a bigger one is refused with 413.")
    render_timeout_s: float = knob(
        120.0, "Seconds one render may take before it is stopped and recorded as failed.")
    render_max_html_bytes: int = knob(
        100_000_000, "Largest rendered page (in bytes); a render that makes more is recorded as failed.")
    render_attempts: int = knob(
        3, "Times a render is tried (a renderer that dies mid-render gives its job back) before it is "
           "recorded as failed.")
    renderers: int = knob(1, "Renders run at once (each in a process of its own).")

    def __post_init__(self) -> None:
        if self.max_size_bytes < 1024 or self.render_max_html_bytes < 1024:
            raise ConfigError("gallery.max_size_bytes and gallery.render_max_html_bytes must be at least 1024.")
        if self.render_timeout_s <= 0:
            raise ConfigError(f"gallery.render_timeout_s = {self.render_timeout_s}: must be more than 0.")
        if self.render_attempts < 1 or self.renderers < 1:
            raise ConfigError("gallery.render_attempts and gallery.renderers must be at least 1.")
