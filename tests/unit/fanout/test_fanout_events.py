"""What the fan-out's steps accept from the state machine: the execution that names the run, and
the Map's batch of targets. Anything else is one line naming the field."""

from __future__ import annotations

import pytest

from ipaudit.fanout.steps import EventError, RunId, batch_targets, execution_run

RUN = {"run_id": "r", "generated_at": "2026-11-27T04:05:06Z"}


def test_the_run_is_named_by_the_execution_and_its_start() -> None:
    run = execution_run(
        {"execution": {"name": "a1b2-c3", "started_at": "2026-11-27T04:05:06.789Z"}}
    )
    assert run.run_id == "20261127T040506Z-a1b2-c3"
    assert run.generated_at == "2026-11-27T04:05:06Z"


def test_a_redrive_which_keeps_the_execution_keeps_the_run() -> None:
    event = {"execution": {"name": "nightly", "started_at": "2026-11-27T04:05:06Z"}}
    assert execution_run(event) == execution_run(dict(event))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "event.execution: missing"),
        ({"execution": {"started_at": "2026-11-27T04:05:06Z"}}, "event.execution.name: missing"),
        (
            {"execution": {"name": "x", "started_at": "yesterday"}},
            "event.execution.started_at: 'yesterday' is not an ISO 8601 time",
        ),
    ],
)
def test_an_execution_without_name_or_start_is_refused(
    event: dict[str, object], message: str
) -> None:
    with pytest.raises(EventError, match=f"^{message}"):
        execution_run(event)


def test_a_batch_is_the_run_and_its_targets_in_order() -> None:
    event = {
        "BatchInput": {"run_id": "20261127T040506Z-x", "generated_at": "2026-11-27T04:05:06Z"},
        "Items": [
            {"account_id": "111111111111", "region": "eu-west-1"},
            {"account_id": "111111111111", "region": "us-east-1"},
        ],
    }
    assert batch_targets(event) == (
        RunId("20261127T040506Z-x", "2026-11-27T04:05:06Z"),
        [("111111111111", "eu-west-1"), ("111111111111", "us-east-1")],
    )


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"Items": []}, r"event.BatchInput.run_id: missing"),
        (
            {"BatchInput": {"run_id": "r"}, "Items": []},
            r"event.BatchInput.generated_at: None is not an ISO 8601 time",
        ),
        ({"BatchInput": RUN}, r"event.Items: missing"),
        (
            {"BatchInput": RUN, "Items": [{"account_id": "111111111111"}]},
            r"event.Items\[0\]: expected \{account_id, region\}",
        ),
    ],
)
def test_a_malformed_batch_is_refused_naming_the_field(
    event: dict[str, object], message: str
) -> None:
    with pytest.raises(EventError, match=f"^{message}"):
        batch_targets(event)
