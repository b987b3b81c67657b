"""SNS messages: one per change worth acting on, with a short subject and filterable attributes."""

from __future__ import annotations

from support.reports import cluster, report, subnet

from ipaudit.alerts.lifecycle import AlertChange
from ipaudit.notify.sns import MAX_SUBJECT, build_messages


def test_each_new_escalated_or_resolved_finding_is_one_message_reminders_are_not() -> None:
    rep = report([cluster(subnets=[subnet("subnet-a", free=50), subnet("subnet-b", free=200)])])
    a, b = rep.findings
    changes = [AlertChange("new", a), AlertChange("reminded", b), AlertChange("resolved", b)]
    messages = build_messages(changes, rep)
    assert [m.attributes["change"] for m in messages] == ["new", "resolved"]


def test_the_body_carries_finding_cluster_summary_and_recommendation() -> None:
    rep = report([cluster(subnets=[subnet(free=50)])])
    (message,) = build_messages([AlertChange("new", rep.findings[0])], rep)
    assert message.body["finding"]["id"] == rep.findings[0].id
    assert message.body["cluster"]["subnets"][0]["free"] == 50
    assert "nodes" not in message.body["cluster"]
    assert message.body["recommendation"]["ips_returned"] == 390
    assert message.attributes == {
        "severity": "CRITICAL",
        "account_id": "111111111111",
        "region": "eu-west-1",
        "cluster": "prod",
        "kind": "subnet_headroom",
        "change": "new",
    }
    assert message.subject.startswith("ipaudit CRITICAL new: subnet_headroom subnet-a")


def test_subjects_stay_under_one_hundred_printable_characters() -> None:
    long_name = "a-very-long-cluster-name-" * 6 + "é"
    rep = report([cluster(long_name, [subnet(free=50)])])
    (message,) = build_messages([AlertChange("new", rep.findings[0])], rep)
    assert len(message.subject) <= MAX_SUBJECT < 100
    assert message.subject.isascii() and "\n" not in message.subject


def test_no_batch_carries_two_messages_of_one_finding_and_batches_stay_in_order() -> None:
    from ipaudit.notify.sns import _batches

    threads = ["a", "b", "a", *[f"x{n}" for n in range(12)]]
    assert _batches(threads) == [[0, 1], list(range(2, 12)), [12, 13, 14]]
