"""The Slack message: what on-call reads, within Slack's limits."""

from __future__ import annotations

import json

from support.reports import cluster, report, subnet

from ipaudit.alerts.lifecycle import AlertChange
from ipaudit.render.slack_blocks import MAX_BLOCKS, MAX_SECTION_CHARS, build_payload
from ipaudit.report import Finding


def texts(payload: dict) -> str:
    return json.dumps(payload["blocks"], ensure_ascii=False)


def test_one_message_names_the_worst_severity_cluster_subnets_and_the_fix() -> None:
    rep = report([cluster(subnets=[subnet("subnet-a", free=50), subnet("subnet-b", free=900)])])
    changes = [AlertChange("new", f) for f in rep.findings]
    payload = build_payload(changes, rep)

    header = payload["blocks"][0]
    assert header["type"] == "header"
    assert "CRITICAL" in header["text"]["text"] and "1 new" in header["text"]["text"]
    body = texts(payload)
    assert "*prod* · account 111111111111 · eu-west-1" in body
    assert "subnet-a (eu-west-1a): 50 of 1019 free (4.9%)" in body
    assert "[#-" in body  # the text bar
    assert "subnet-b" not in body  # only the affected subnet
    assert "Nodes hold 450 addresses for 30 pods (405 warm" in body
    assert "WARM_IP_TARGET=2, MINIMUM_IP_TARGET=12 returns 390 addresses" in body
    assert "kubectl -n kube-system set env daemonset/aws-node" in body
    assert payload["blocks"][-1]["type"] == "context"
    assert "run-1" in payload["blocks"][-1]["elements"][0]["text"]
    assert payload["text"].startswith("ipaudit: ") and "CRITICAL" in payload["text"]


def test_resolved_only_reads_as_resolved() -> None:
    rep = report([cluster(subnets=[subnet(free=900)])])
    gone = Finding(
        "subnet_headroom:111111111111:eu-west-1:prod:subnet-a",
        "WARNING",
        "subnet_headroom",
        "111111111111",
        "eu-west-1",
        "prod",
        "subnet-a",
        "subnet subnet-a has 200 of 1019 addresses free",
        200,
    )
    payload = build_payload([AlertChange("resolved", gone, "WARNING")], rep)
    assert "RESOLVED" in payload["blocks"][0]["text"]["text"]
    assert "*RESOLVED*" in texts(payload)


def test_escalation_shows_the_step() -> None:
    rep = report([cluster(subnets=[subnet(free=50)])])
    (finding,) = rep.findings
    payload = build_payload([AlertChange("escalated", finding, "WARNING", 200)], rep)
    assert "ESCALATED WARNING → CRITICAL" in texts(payload)


def test_too_many_clusters_are_summarised_in_one_line_within_fifty_blocks() -> None:
    clusters = [cluster(f"c{n:02d}", [subnet(free=50)]) for n in range(40)]
    rep = report(clusters)
    payload = build_payload([AlertChange("new", f) for f in rep.findings], rep)
    blocks = payload["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    shown = sum("account 111111111111" in b.get("text", {}).get("text", "") for b in blocks)
    overflow = [b for b in blocks if "more clusters" in b.get("text", {}).get("text", "")]
    assert len(overflow) == 1
    assert f"{40 - shown} new in {40 - shown} more clusters" in overflow[0]["text"]["text"]


def test_a_section_never_exceeds_three_thousand_characters() -> None:
    subnets = [subnet(f"subnet-{n:03d}", free=50) for n in range(80)]
    rep = report([cluster(subnets=subnets)])
    payload = build_payload([AlertChange("new", f) for f in rep.findings], rep)
    sections = [b for b in payload["blocks"] if b["type"] == "section"]
    assert all(len(s["text"]["text"]) <= MAX_SECTION_CHARS for s in sections)
    assert "more lines" in sections[0]["text"]["text"]


def test_control_characters_are_escaped_so_no_text_becomes_a_link_or_a_mention() -> None:
    rep = report([cluster("a<b>&c", subnets=[subnet(free=50)])])
    finding = Finding(
        id="x",
        severity="CRITICAL",
        kind="eks_health",
        account_id="111111111111",
        region="eu-west-1",
        cluster="a<b>&c",
        resource="r",
        message="<!channel> see <https://evil.example|here> & more",
    )
    payload = build_payload([AlertChange("new", finding)], rep)
    body = texts(payload)
    assert "&lt;!channel&gt; see &lt;https://evil.example|here&gt; &amp; more" in body
    assert "*a&lt;b&gt;&amp;c*" in body
    assert "<!channel>" not in body and "<https://" not in body


def test_a_late_delivery_says_when_it_was_found() -> None:
    rep = report([cluster(subnets=[subnet(free=50)])])
    (finding,) = [f for f in rep.findings if f.severity == "CRITICAL"]
    payload = build_payload([AlertChange("new", finding, late_since="2026-03-02T09:00:00Z")], rep)
    assert "(late: found 2026-03-02T09:00:00Z)" in texts(payload)


def test_a_findings_changes_keep_their_commit_order_and_the_worst_current_state_leads() -> None:
    rep = report([cluster(subnets=[subnet("subnet-a", free=200), subnet("subnet-b", free=50)])])
    a, b = sorted(rep.findings, key=lambda f: f.resource)
    # As committed: a went new, resolved, new (open now); b new then escalated (open, CRITICAL).
    changes = [
        AlertChange("new", a),
        AlertChange("new", b),
        AlertChange("resolved", a),
        AlertChange("escalated", b, "WARNING"),
        AlertChange("new", a),
    ]
    lines = [
        line.split("*")[1].split(" ")[0] + " " + line.split("subnet ", 1)[1].split(" ")[0]
        for line in build_payload(changes, rep)["blocks"][1]["text"]["text"].splitlines()
        if line.startswith(":") and "subnet " in line
    ]
    assert lines == [
        "NEW subnet-b",
        "ESCALATED subnet-b",
        "NEW subnet-a",
        "RESOLVED subnet-a",
        "NEW subnet-a",
    ]
