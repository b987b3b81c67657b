"""Settings: the documented variables, their defaults, and one clear line for every bad value."""

import pytest

from ipaudit.settings import Settings, SettingsError


def test_defaults_audit_the_callers_own_account_in_the_sessions_region() -> None:
    settings = Settings.from_env({})
    assert settings.accounts is None and not settings.organization and settings.regions is None
    assert settings.role_name == "IpAuditReadOnly"
    assert (settings.warn_free_pct, settings.crit_free_pct, settings.renotify_hours) == (25, 10, 24)
    assert settings.table is None and settings.sns_topic_arn is None


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "IPAUDIT_ACCOUNTS": "111111111111, 222222222222",
            "IPAUDIT_REGIONS": "eu-west-1,us-gov-west-1",
            "IPAUDIT_ROLE_NAME": "Auditor",
            "IPAUDIT_EXTERNAL_ID": "xyz",
            "IPAUDIT_KUBE_ENDPOINTS": "prod=https://k8s.example.com,"
            "arn:aws:eks:eu-west-1:111111111111:cluster/dev=http://127.0.0.1:8443/",
            "IPAUDIT_TABLE": "ipaudit",
            "IPAUDIT_SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:111111111111:ipaudit",
            "IPAUDIT_SLACK_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:s",
            "IPAUDIT_EMAIL_FROM": "ipaudit@example.com",
            "IPAUDIT_EMAIL_TO": "a@example.com,b@example.com",
            "IPAUDIT_WARN_FREE_PCT": "30",
            "IPAUDIT_CRIT_FREE_PCT": "5",
            "IPAUDIT_RENOTIFY_HOURS": "6",
        }
    )
    assert settings.accounts == ("111111111111", "222222222222")
    assert settings.regions == ("eu-west-1", "us-gov-west-1")
    assert settings.kube_endpoint("prod", "arn:aws:eks:eu-west-1:1:cluster/prod") == (
        "https://k8s.example.com"
    )
    assert (
        settings.kube_endpoint("dev", "arn:aws:eks:eu-west-1:111111111111:cluster/dev")
        == "http://127.0.0.1:8443"
    )
    assert settings.email_to == ("a@example.com", "b@example.com")
    assert (settings.warn_free_pct, settings.crit_free_pct, settings.renotify_hours) == (30, 5, 6)


@pytest.mark.parametrize(
    "region",
    [
        "us-east-1",
        "eu-west-3",
        "ap-southeast-4",
        "us-gov-west-1",
        "cn-north-1",
        "il-central-1",
        "mx-central-1",
        "eusc-de-east-1",
    ],
)
def test_a_region_of_any_partition_is_accepted(region: str) -> None:
    assert Settings.from_env({"IPAUDIT_REGIONS": region}).regions == (region,)


def test_a_region_of_the_right_shape_that_aws_does_not_have_is_refused_with_the_nearest() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"IPAUDIT_REGIONS": "eu-west-1,eu-wst-1"})
    assert str(raised.value).startswith(
        "IPAUDIT_REGIONS: 'eu-wst-1' is not an AWS region (did you mean 'eu-west-1'?); "
        "a region newer than botocore "
    )


def test_organization_means_every_account_of_the_organization() -> None:
    settings = Settings.from_env({"IPAUDIT_ACCOUNTS": "organization"})
    assert settings.organization and settings.accounts is None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("IPAUDIT_ACCOUNTS", "12345", "IPAUDIT_ACCOUNTS: '12345' is not a 12-digit account id"),
        ("IPAUDIT_REGIONS", "europe", "IPAUDIT_REGIONS: 'europe' is not a region name"),
        ("IPAUDIT_REGIONS", "EU-WEST-1", "IPAUDIT_REGIONS: 'EU-WEST-1' is not a region name"),
        ("IPAUDIT_KUBE_ENDPOINTS", "prod=not a url", "IPAUDIT_KUBE_ENDPOINTS: 'not a url'"),
        ("IPAUDIT_KUBE_ENDPOINTS", "prod", "IPAUDIT_KUBE_ENDPOINTS: 'prod' is not of the form"),
        ("IPAUDIT_KUBE_ENDPOINTS", "prod=http://10.0.0.1", "uses http:// on a host"),
        ("IPAUDIT_WARN_FREE_PCT", "lots", "IPAUDIT_WARN_FREE_PCT: 'lots' is not a number"),
        ("IPAUDIT_CRIT_FREE_PCT", "120", "IPAUDIT_CRIT_FREE_PCT: '120' is not a percentage"),
        ("IPAUDIT_CRIT_FREE_PCT", "40", "IPAUDIT_CRIT_FREE_PCT: 40 is above IPAUDIT_WARN_FREE_PCT"),
        ("IPAUDIT_RENOTIFY_HOURS", "0", "IPAUDIT_RENOTIFY_HOURS: '0' must be above 0"),
        ("IPAUDIT_SNS_TOPIC_ARN", "my-topic", "IPAUDIT_SNS_TOPIC_ARN: 'my-topic' is not an sns"),
        ("IPAUDIT_EMAIL_TO", "ops", "IPAUDIT_EMAIL_TO: 'ops' is not an e-mail address"),
        ("IPAUDIT_ROLE_NAME", "bad role", "IPAUDIT_ROLE_NAME: 'bad role' is not a valid"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert message in str(raised.value)
    assert str(raised.value).startswith(variable) and "\n" not in str(raised.value)


def test_a_bad_webhook_url_is_reported_without_its_value() -> None:
    secret = "http://hooks.slack.example/services/T000/B000/SECRETTOKEN"
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"IPAUDIT_SLACK_WEBHOOK_URL": secret})
    assert "IPAUDIT_SLACK_WEBHOOK_URL" in str(raised.value)
    assert "SECRETTOKEN" not in str(raised.value)


def test_the_webhook_url_never_shows_in_the_settings_repr() -> None:
    settings = Settings.from_env(
        {"IPAUDIT_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/SECRETTOKEN"}
    )
    assert "SECRETTOKEN" not in repr(settings)


# -- each setting declared once ------------------------------------------------------------


def test_the_settings_reference_is_made_from_the_declaration() -> None:
    from pathlib import Path

    from ipaudit.settings import settings_table

    reference = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
    assert settings_table() in reference.read_text()


def test_the_validator_reads_every_declared_variable_and_no_other() -> None:
    import inspect
    import re

    from ipaudit import settings as module
    from ipaudit.settings import DECLARED

    read = set(re.findall(r'get\("(IPAUDIT_\w+)"\)', inspect.getsource(module.Settings.from_env)))
    assert read == {d.variable for d in DECLARED}


def test_every_declared_flag_sets_its_variable_on_the_command_line() -> None:
    from ipaudit.cli import build_parser
    from ipaudit.cli.options import SETTING_FLAGS, settings_from
    from ipaudit.settings import DECLARED

    assert {d.flag: d.variable for d in DECLARED if d.flag} == SETTING_FLAGS
    args = build_parser().parse_args(["audit", "--warn-free-pct", "40", "--renotify-hours", "6"])
    chosen = settings_from(args, env={"IPAUDIT_WARN_FREE_PCT": "30"})
    assert (chosen.warn_free_pct, chosen.renotify_hours) == (40.0, 6.0)  # the flag wins


def test_every_declared_context_key_becomes_its_variable_in_the_function() -> None:
    from infra.config import SETTING_KEYS
    from ipaudit.settings import DECLARED

    declared = {d.context_key: d.variable for d in DECLARED if d.context_key}
    # mutes_file is read as a file at synth, then passed as IPAUDIT_MUTES (infra/config.py).
    assert declared == {**SETTING_KEYS, "mutes_file": "IPAUDIT_MUTES"}
