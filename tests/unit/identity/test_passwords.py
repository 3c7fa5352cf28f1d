"""Password hashes: OWASP's argon2id setting, and hashes made before it still sign people in."""

from __future__ import annotations

from argon2 import PasswordHasher

from appliance.identity import passwords


def test_a_new_hash_is_argon2id_at_owasps_setting_and_verifies() -> None:
    made = passwords.hash_password("correct horse battery")
    assert made.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(made, "correct horse battery")
    assert not passwords.verify_password(made, "correct horse batteries")
    assert not passwords.needs_rehash(made)


def test_a_hash_made_with_the_old_default_still_verifies_and_is_made_again() -> None:
    old = PasswordHasher().hash("correct horse battery")  # argon2-cffi's default: t=3, m=64 MiB, p=4
    assert passwords.verify_password(old, "correct horse battery")
    assert passwords.needs_rehash(old)


def test_no_account_and_a_broken_hash_are_refused() -> None:
    assert not passwords.verify_password(None, "anything at all")
    assert not passwords.verify_password("not a hash", "anything at all")
