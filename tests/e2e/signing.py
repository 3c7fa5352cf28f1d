"""Signing in to the portal in Chromium, as a member types it: the one helper every browser test uses."""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import Browser, Page

from tests.harness import Appliance
from tests.integration.oauth import add_user


def sign_in(page: Page, lab: Appliance, username: str, password: str, next_path: str = "/",
            lands_on: str | None = None) -> Page:
    """Sign ``username`` in through the portal's sign-in page, asked for from ``next_path``; waits until the
    browser is on ``lands_on`` (default ``next_path``; "" waits for nothing: a page that keeps loading)."""
    page.goto(f"{lab.public_portal_url}/login?next={quote(next_path, safe='/')}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    landing = next_path if lands_on is None else lands_on
    if landing:
        page.wait_for_url(f"{lab.public_portal_url}{landing}")
    return page


def sign_in_new(page: Page, lab: Appliance, username: str, *options: str, next_path: str = "/",
                lands_on: str | None = None) -> str:
    """A new account ``username`` (``appliance users add`` with ``options``), signed in; its password."""
    password = add_user(lab, username, *options)
    sign_in(page, lab, username, password, next_path, lands_on)
    return password


def new_member_page(chromium: Browser, lab: Appliance, username: str, password: str, next_path: str = "/",
                    lands_on: str | None = None, width: int = 1280, height: int = 860) -> Page:
    """A fresh browser context (its own cookies) with ``username`` signed in."""
    page = chromium.new_context(viewport={"width": width, "height": height}).new_page()
    return sign_in(page, lab, username, password, next_path, lands_on)


def sign_in_as_admin(page: Page, lab: Appliance, username: str, next_path: str = "/admin/people") -> Page:
    """A new administrator ``username``, signed in on ``next_path``."""
    return sign_in(page, lab, username, add_user(lab, username, "--admin"), next_path)
