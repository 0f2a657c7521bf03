"""Settings from the environment: the desk's rules are the operator's to change, and half a
configuration is refused rather than guessed."""

from __future__ import annotations

from datetime import date, time

import pytest

from bot.config import Config


def env(tmp_path, **values: str) -> dict[str, str]:
    return {"INSTANCE_PATH": str(tmp_path), **values}


def test_without_a_line_channel_the_simulator_runs_with_generated_credentials_kept_for_every_process(tmp_path):
    first, second = Config.from_env(env(tmp_path)), Config.from_env(env(tmp_path, PORT="9000"))
    assert first.simulator and first.line_channel_secret == second.line_channel_secret
    assert second.line_api_base_url == "http://127.0.0.1:9000/simulator/line"


def test_a_real_channel_turns_the_simulator_off_and_needs_a_secret_key(tmp_path):
    channel = {"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t",
               "PUBLIC_BASE_URL": "https://desk.example.jp"}
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        Config.from_env(env(tmp_path, **channel))
    config = Config.from_env(env(tmp_path, **channel, SECRET_KEY="k"))
    assert not config.simulator and config.line_api_base_url == "https://api.line.me"


@pytest.mark.parametrize("given, missing", [("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN"),
                                            ("LINE_CHANNEL_ACCESS_TOKEN", "LINE_CHANNEL_SECRET")])
def test_half_a_line_channel_refuses_to_start_instead_of_opening_the_simulator(tmp_path, given, missing):
    with pytest.raises(RuntimeError, match=f"half configured: set {missing}"):
        Config.from_env(env(tmp_path, SECRET_KEY="k", PUBLIC_BASE_URL="https://desk.example.jp", **{given: "x"}))


def test_a_real_channel_refuses_to_start_without_the_public_address_users_are_sent_links_to(tmp_path):
    channel = env(tmp_path, LINE_CHANNEL_SECRET="s", LINE_CHANNEL_ACCESS_TOKEN="t", SECRET_KEY="k")
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        Config.from_env(channel)
    config = Config.from_env({**channel, "PUBLIC_BASE_URL": "https://desk.example.jp/"})
    assert config.desk.policy_url == "https://desk.example.jp/policy"
    assert Config.from_env(env(tmp_path)).public_base_url == "http://127.0.0.1:8000"  # the simulator needs none


def test_proxy_hops_default_to_trusting_no_proxy_and_nonsense_is_refused(tmp_path):
    assert Config.from_env(env(tmp_path)).proxy_hops == 0
    assert Config.from_env(env(tmp_path, PROXY_HOPS="1")).proxy_hops == 1
    with pytest.raises(RuntimeError, match="PROXY_HOPS"):
        Config.from_env(env(tmp_path, PROXY_HOPS="-1"))


def test_the_booking_rules_and_desk_details_come_from_the_environment(tmp_path):
    config = Config.from_env(env(
        tmp_path, SESSION_MINUTES="40", BOOKING_WINDOWS="09:30-12:00, 13:00-17:00", BOOKING_CUTOFF="17:00",
        BOOKING_HORIZON_DAYS="14", MAX_ACTIVE_BOOKINGS="2", HOLD_MINUTES="10", CLOSED_DAYS="2026-12-29,2026-12-30",
        DESK_NAME="ひまわり若者相談室", DESK_PHONE="0120-000-000", DESK_TOPICS="転職,お金", AGE_MIN="18", AGE_MAX="34",
        CRISIS_HOTLINES="窓口A 0120-111-111; 窓口B 0120-222-222"))
    rules, desk = config.desk.rules, config.desk
    assert rules.session_minutes == 40 and rules.windows == ((time(9, 30), time(12)), (time(13), time(17)))
    assert rules.cutoff_time == time(17) and rules.horizon_days == 14 and rules.max_active_bookings_per_user == 2
    assert rules.hold_minutes == 10 and rules.extra_closed_days == {date(2026, 12, 29), date(2026, 12, 30)}
    assert desk.desk_name == "ひまわり若者相談室"
    assert Config.from_env(env(tmp_path)).desk.desk_name == "みらいキャリアポート"
    assert desk.phone == "0120-000-000" and desk.topics == ("転職", "お金") and (desk.age_min, desk.age_max) == (18, 34)
    assert desk.hotlines == ("窓口A 0120-111-111", "窓口B 0120-222-222")


def test_graph_half_configured_is_refused_with_what_is_missing(tmp_path):
    with pytest.raises(RuntimeError, match="GRAPH_ORGANIZER"):
        Config.from_env(env(tmp_path, GRAPH_TENANT_ID="t", GRAPH_CLIENT_ID="c", GRAPH_CLIENT_SECRET="s"))
    config = Config.from_env(env(tmp_path, GRAPH_TENANT_ID="t", GRAPH_CLIENT_ID="c", GRAPH_CLIENT_SECRET="s",
                                 GRAPH_ORGANIZER="desk@example.jp"))
    assert config.graph.organizer == "desk@example.jp" and config.graph.base_url.endswith("/v1.0")
    assert Config.from_env(env(tmp_path)).graph is None
