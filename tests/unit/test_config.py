"""Configuration: precedence, validation messages, masking, and every knob documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.config import (
    all_knobs,
    load_config,
    render_defaults,
    render_effective,
    set_values,
    tighten_file_mode,
)
from appliance.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "appliance.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ={})
    assert config.file is None
    assert (config.portal.host, config.portal.port, config.proxy.port) == ("127.0.0.1", 8000, 8001)
    assert set(config.sources.values()) == {"default"}


def test_precedence_option_over_env_over_file_over_default(tmp_path: Path) -> None:
    write(tmp_path, "[portal]\nport = 9000\nhost = \"10.0.0.1\"\n[supervisor]\nbackoff_max_s = 5\n")
    config = load_config(home=tmp_path, environ={"APPLIANCE_PORTAL_PORT": "9100", "APPLIANCE_PROXY_PORT": "9200"},
                         overrides={"portal.port": 9999})
    assert config.portal.port == 9999 and config.sources["portal.port"] == "option"
    assert config.proxy.port == 9200 and config.sources["proxy.port"] == "env APPLIANCE_PROXY_PORT"
    assert config.portal.host == "10.0.0.1" and config.sources["portal.host"] == "file"
    assert config.supervisor.backoff_max_s == 5.0 and isinstance(config.supervisor.backoff_max_s, float)
    assert config.proxy.api_port == 8002 and config.sources["proxy.api_port"] == "default"


def test_home_and_file_from_environment(tmp_path: Path) -> None:
    other = write(tmp_path, "[proxy]\nport = 9301\n")
    config = load_config(environ={"APPLIANCE_HOME": str(tmp_path / "h"), "APPLIANCE_CONFIG": str(other)})
    assert config.home.root == tmp_path / "h"
    assert config.file == other and config.proxy.port == 9301


def test_explicit_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(home=tmp_path, file=tmp_path / "missing.toml", environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[portal\nport = 1\n", "is not valid TOML"),
        ("port = 1\n", "line 1: `port` is outside any section"),
        ("[supervisor]\ncrashloop_after = true\n", "line 2: supervisor.crashloop_after = True is not an integer"),
        ("[portal]\nhost = 127\n", "line 2: portal.host = 127 is not a string; expected e.g. host = \"127.0.0.1\""),
    ],
)
def test_file_errors_name_file_line_and_expectation(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(home=tmp_path, environ={})
    assert str(path) in str(error.value)
    assert message in str(error.value)


@pytest.mark.parametrize(("raw", "value"), [("yes", True), ("0", False), ("TRUE", True), ("off", False)])
def test_boolean_environment_values(raw: str, value: bool) -> None:
    from appliance.config import _parse_text

    info = next(k for k in all_knobs() if k.type is int)
    assert _parse_text(info.__class__(**{**info.__dict__, "type": bool}), raw, info.env_var) is value


def test_effective_config_masks_secrets_and_shows_sources(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ={"APPLIANCE_POSTGRES_URL": "postgresql://u:hunter2@db/x"})
    shown = render_effective(config)
    assert "hunter2" not in shown
    assert 'url = "********"  # env APPLIANCE_POSTGRES_URL' in shown
    assert "port = 8000  # default" in shown


def test_every_knob_has_help_units_and_appears_in_the_defaults_file() -> None:
    defaults = render_defaults()
    for info in all_knobs():
        assert len(info.help) > 20, f"{info.section}.{info.name} needs a real help text"
        assert f"#{info.name} = " in defaults
        if info.name.endswith(("_s", "_bytes", "_cores")):
            continue
        assert info.type is not float, f"{info.section}.{info.name}: a float knob needs a unit suffix"


def test_defaults_file_is_valid_toml_when_uncommented(tmp_path: Path) -> None:
    text = "\n".join(line[1:] if line.startswith("#") and "=" in line and not line.startswith("# ") else line
                     for line in render_defaults().splitlines())
    write(tmp_path, text)
    config = load_config(home=tmp_path, environ={})
    assert set(config.sources.values()) == {"file"}


def test_the_installed_service_reads_etc_appliance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system_home, system_config = tmp_path / "var-lib-appliance", tmp_path / "etc-appliance.toml"
    system_config.write_text("[portal]\nport = 8100\n")
    monkeypatch.setattr(config_module, "SYSTEM_HOME", system_home)
    monkeypatch.setattr(config_module, "SYSTEM_CONFIG", system_config)
    config = load_config(home=system_home, environ={})
    assert (config.file, config.portal.port) == (system_config, 8100)
    assert load_config(home=tmp_path / "another-home", environ={}).portal.port == 8000  # only the service's home
    system_home.mkdir()
    write(system_home, "[portal]\nport = 8200\n")  # the home's own file comes first
    assert load_config(home=system_home, environ={}).portal.port == 8200


def test_set_uncomments_the_default_line_in_place_and_keeps_every_other_byte(tmp_path: Path) -> None:
    file = write(tmp_path, render_defaults())
    before = file.read_text().splitlines()
    set_values(file, {"portal.public_url": "https://lab.example.org", "proxy.port": "443",
                      "supervisor.backoff_initial_s": "2"})
    after = file.read_text().splitlines()
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [('#public_url = ""', 'public_url = "https://lab.example.org"'), ("#port = 8001", "port = 443"),
                       ("#backoff_initial_s = 0.5", "backoff_initial_s = 2.0")]
    config = load_config(home=tmp_path, environ={})
    assert (config.portal.public_url, config.proxy.port, config.portal.port) == ("https://lab.example.org", 443, 8000)

    set_values(file, {"proxy.port": "8443"})  # a key already set is changed where it stands
    assert file.read_text().count("port = 8443") == 1 and load_config(home=tmp_path, environ={}).proxy.port == 8443


def test_set_adds_keys_and_sections_and_makes_a_missing_file(tmp_path: Path) -> None:
    file = write(tmp_path, "# ours\n[proxy]\nport = 1\n")
    set_values(file, {"proxy.api_port": "2", "hubs.count": "3"})
    assert file.read_text().startswith("# ours\n[proxy]\nport = 1\n")
    config = load_config(home=tmp_path, environ={})
    assert (config.proxy.port, config.proxy.api_port, config.hubs.count) == (1, 2, 3)
    made = tmp_path / "elsewhere.toml"
    set_values(made, {"portal.port": "9000"})
    assert load_config(home=tmp_path, file=made, environ={}).portal.port == 9000


def test_set_makes_a_new_file_0600_and_tightens_a_wider_one(tmp_path: Path) -> None:
    made, wide, narrow = tmp_path / "made.toml", write(tmp_path, "[proxy]\n"), tmp_path / "narrow.toml"
    wide.chmod(0o644)
    narrow.write_text("")
    narrow.chmod(0o400)
    for file in (made, wide, narrow):
        set_values(file, {"portal.port": "9000"})
    assert [oct(file.stat().st_mode & 0o777) for file in (made, wide, narrow)] == ["0o600", "0o600", "0o400"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["appliance.toml", "made.toml", "narrow.toml"]


def test_start_up_tightens_only_a_file_of_its_own(tmp_path: Path) -> None:
    file = write(tmp_path, "")
    file.chmod(0o644)
    assert tighten_file_mode(file) and file.stat().st_mode & 0o777 == 0o600
    assert not tighten_file_mode(file)


@pytest.mark.parametrize(("assignments", "message"), [
    ({"proxy.nope": "1"}, "unknown key proxy.nope"),
    ({"proxy.port": "https"}, "proxy.port='https' is not an integer"),
    ({"hubs.count": "99"}, "was left as it was: hubs.count = 99: must be between 0 and 64"),
    ({"proxy.tls_cert": "/etc/cert.pem"}, "was left as it was: proxy.tls_cert and proxy.tls_key go together"),
])
def test_set_refuses_bad_values_and_leaves_the_file_as_it_was(tmp_path: Path, assignments: dict[str, str],
                                                              message: str) -> None:
    file = write(tmp_path, render_defaults())
    before = file.read_bytes()
    with pytest.raises(ConfigError, match=message):
        set_values(file, assignments)
    assert file.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["appliance.toml"]


def test_set_checks_a_certificate_and_its_key_before_keeping_them(tmp_path: Path) -> None:
    from tests.tls import make_certificates

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cert, key = make_certificates(tmp_path / "a", ["lab.example.org"])[1:]
    other_key = make_certificates(tmp_path / "b", ["lab.example.org"])[2]
    file = write(tmp_path, "")
    with pytest.raises(ConfigError, match="cannot be used together"):
        set_values(file, {"proxy.tls_cert": str(cert), "proxy.tls_key": str(other_key)})
    assert file.read_text() == ""
    set_values(file, {"proxy.tls_cert": str(cert), "proxy.tls_key": str(key)})
    assert load_config(home=tmp_path, environ={}).proxy.tls_key == str(key)


def test_set_refuses_a_certificate_that_does_not_name_every_members_host(tmp_path: Path) -> None:
    from tests.tls import make_certificates

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    hosts = {"portal.public_url": "https://lab.example.org", "hubs.public_url": "https://hub.lab.example.org"}
    cert, key = make_certificates(tmp_path / "a", ["lab.example.org", "hub.lab.example.org"])[1:]
    file = write(tmp_path, "")
    with pytest.raises(ConfigError, match=r"does not name \*\.hub\.lab\.example\.org \(it names hub.lab.example.org, "
                                          r"lab.example.org\)") as refused:
        set_values(file, {**hosts, "proxy.tls_cert": str(cert), "proxy.tls_key": str(key)})
    assert "-d *.hub.lab.example.org" in str(refused.value.hint)
    assert file.read_text() == ""
    names = ["lab.example.org", "hub.lab.example.org", "*.hub.lab.example.org"]
    cert, key = make_certificates(tmp_path / "b", names)[1:]
    set_values(file, {**hosts, "proxy.tls_cert": str(cert), "proxy.tls_key": str(key)})
    assert load_config(home=tmp_path, environ={}).proxy.tls_cert == str(cert)
