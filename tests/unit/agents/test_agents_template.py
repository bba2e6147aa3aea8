from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from ml.agents.base import AgentInput, Signal, Snippet, UserView
from ml.agents.template import TemplateAgent, TemplateError

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 12, 10, 0, tzinfo=UTC)  # Tue 12 May, 12:00 in Paris
READING_LIST = Path(__file__).parents[3] / "manifests" / "reading_list.yaml"


def inp(
    signals: list[Signal] | None = None,
    *,
    now: datetime = NOW,
    tz: ZoneInfo = PARIS,
    params: Mapping[str, Any] | None = None,
) -> AgentInput:
    user = UserView("u1", tz, {"work_start": "09:00"})
    return AgentInput(user, now, signals or [], params if params is not None else {})


def render(source: str, signals: list[Signal] | None = None, **kwargs: Any) -> Snippet | None:
    return TemplateAgent(source, agent_id="t").compute(inp(signals, **kwargs))


def article(external_id: str, payload: Mapping[str, Any]) -> Signal:
    return Signal("article", external_id, payload, datetime(2026, 5, 1, tzinfo=UTC))


def reading_list() -> TemplateAgent:
    manifest = yaml.safe_load(READING_LIST.read_text())
    return TemplateAgent(manifest["template"], agent_id=manifest["id"])


ARTICLES = [
    article(
        "a1",
        {"title": "Why we sleep", "minutes": 12, "read": False, "saved_at": "2026-05-01T09:00:00Z"},
    ),
    article(
        "a2",
        {"title": "Deep work, revisited", "minutes": 25, "read": False, "saved_at": "2026-05-03"},
    ),
    article("a3", {"title": "Tiny habits", "minutes": 4, "read": True, "saved_at": "2026-05-02"}),
    article("a4", {"title": "Meetings  that\nwork", "minutes": 9.4, "saved_at": "nonsense"}),
]


def test_reading_list_example_suggests_the_shortest_unread_article() -> None:
    snippet = reading_list().compute(inp(ARTICLES, params={"max_minutes": 15}))
    assert snippet is not None
    assert snippet.text == (
        "Reading list: 3 unread articles (about 46 min in all). Shortest first:"
        ' "Meetings that work" (9 min); "Why we sleep" (12 min, saved 2026-05-01);'
        ' "Deep work, revisited" (25 min, saved 2026-05-03).'
    )
    assert snippet.suggestion == (
        'Take a 9-minute break to read "Meetings that work" from your reading list.'
    )


def test_reading_list_without_a_short_article_has_no_suggestion() -> None:
    snippet = reading_list().compute(inp(ARTICLES[:2], params={"max_minutes": 10}))
    assert snippet is not None
    assert snippet.suggestion is None


def test_reading_list_with_nothing_unread_gives_none() -> None:
    assert reading_list().compute(inp([ARTICLES[2]])) is None
    assert reading_list().compute(inp([])) is None


@pytest.mark.parametrize(
    "payload",
    [
        {"title": None, "minutes": 5},
        {"title": "No minutes"},
        {"title": "Bool minutes", "minutes": True},
        {"title": "Negative", "minutes": -3},
        {"title": "Text minutes", "minutes": "5"},
        {"title": ["x"], "minutes": 5},
        {},
    ],
)
def test_reading_list_skips_malformed_articles(payload: dict[str, Any]) -> None:
    agent = reading_list()
    expected = agent.compute(inp(ARTICLES))
    result = agent.compute(inp([*ARTICLES, article("bad", payload)]))
    assert expected is not None and result is not None
    assert (result.text, result.suggestion) == (expected.text, expected.suggestion)


def test_reading_list_is_stable_between_sweeps() -> None:
    agent = reading_list()
    first = agent.compute(inp(ARTICLES))
    assert first == agent.compute(inp(ARTICLES, now=NOW + timedelta(minutes=10)))


def test_context_and_helpers_use_the_users_local_time() -> None:
    source = (
        "{{ now }} {{ today }} {{ user.timezone }} {{ user.preferences.work_start }}"
        " {{ params.n }} {{ signals | length }}\n"
        "{% for s in signals %}{{ s.kind }} {{ s.external_id }} {{ s.occurred_at }}"
        " {{ days_until(s.payload.due) }} {{ s.payload.at | local_time }}"
        " {{ local_date(s.payload.at) }} [{{ local_time('bad') }}]{% endfor %}"
    )
    signal = Signal(
        "task",
        "t1",
        {"due": "2026-05-15", "at": "2026-05-12T22:30:00Z"},
        datetime(2026, 5, 1, tzinfo=UTC),
    )
    snippet = render(source, [signal], params={"n": 3})
    assert snippet is not None
    assert snippet.text == (
        "2026-05-12T12:00:00+02:00 2026-05-12 Europe/Paris 09:00 3 1\n"
        "task t1 2026-05-01T02:00:00+02:00 3 00:30 2026-05-13 []"
    )
    assert snippet.facts == {"signals_read": 1}


def test_late_evening_utc_is_already_tomorrow_in_paris() -> None:
    late = datetime(2026, 5, 12, 23, 30, tzinfo=UTC)
    assert render("{{ today }} {{ days_until('2026-05-13') }}", now=late) == Snippet(
        "2026-05-13 0", None, {"signals_read": 0}
    )
    assert render("{{ today }}", now=late, tz=ZoneInfo("UTC")) == Snippet(
        "2026-05-12", None, {"signals_read": 0}
    )


def test_suggestion_part_and_empty_render() -> None:
    snippet = render("  Some text.  \n  ---suggestion---  \n Do   this\nnow. \n")
    assert snippet == Snippet("Some text.", "Do this now.", {"signals_read": 0})
    assert render("{% if false %}never{% endif %}\n   \n") is None
    assert render("---suggestion---\nOnly a suggestion") is None


def test_output_is_truncated_to_the_snippet_limits() -> None:
    snippet = render("{{ 'a' * 5000 }}\n---suggestion---\n{{ 'b' * 5000 }}")
    assert snippet is not None
    assert len(snippet.text) == 600 and snippet.text.endswith("…")
    assert snippet.suggestion is not None and len(snippet.suggestion) == 240


def test_payloads_reach_the_template_as_plain_bounded_values() -> None:
    deep: dict[str, Any] = {"v": 1}
    for _ in range(20):
        deep = {"d": deep}
    weird = {"obj": object(), "deep": deep, "long": "x" * 10_000, "items": list(range(5000))}
    source = (
        "{% for s in signals %}{{ s.payload.obj }} {{ s.payload.long | length }}"
        " {{ s.payload['items'] | length < 1000 }} {{ s.payload.deep | tojson | length < 100 }}"
        "{% endfor %}"
    )
    snippet = render(source, [article("w", weird)])
    assert snippet is not None and snippet.text == "None 2000 True True"


def test_signals_passed_in_are_capped_to_the_most_recent() -> None:
    signals = [Signal("article", f"a{i}", {}, NOW - timedelta(minutes=i)) for i in range(1000)]
    snippet = render("{{ signals | length }} {{ (signals | last).external_id }}", signals)
    assert snippet is not None and snippet.text == "200 a0"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.system('id') }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self.__init__.__globals__ }}",
        "{{ os.system('id') }}",
        "{{ lipsum.__globals__ }}",
        "{{ config }}",
        "{{ ''|attr('__class__') }}",
        "{{ signals.__class__ }}",
        "{{ user.__class__.__base__ }}",
        "{{ (signals | first).payload.__class__ }}",
        "{{ 'x'.format }}",
        "{{ '{0.__class__}'.format('') }}",
        "{{ 'x'.encode('utf-8') }}",
        "{{ (1).to_bytes(10000000, 'big') }}",
        "{% set l = [1] %}{{ l.append(2) }}",
        "{% set d = {} %}{{ d.update({'a': 1}) }}",
        "{% include 'x.html' %}",
        "{% extends 'base.html' %}",
        "{% import 'macros.html' as m %}",
    ],
)
def test_sandbox_escapes_fail(source: str) -> None:
    """Refused when the manifest loads where that can be seen, else by the sandbox."""
    with pytest.raises(TemplateError):
        agent = TemplateAgent(source, agent_id="evil")
        agent.compute(inp([article("a", {"title": "t"})]))


@pytest.mark.parametrize(
    "source",
    [
        "{{ signals | attr('_' ~ '_class__') }}",
        "{% set n = '__cla' ~ 'ss__' %}{{ ''[n] }}",
        "{% set n = '__glob' ~ 'als__' %}{{ (cycler.reset | attr(n)) }}",
        "{{ user | attr(['_', '_class__'] | join) }}",
    ],
)
def test_names_built_at_render_time_meet_the_sandbox(source: str) -> None:
    """Names the load-time check cannot see still never reach Python internals."""
    agent = TemplateAgent(source, agent_id="evil")  # nothing visible to refuse at load
    with pytest.raises(TemplateError):
        agent.compute(inp([article("a", {"title": "t"})]))


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(100000000) %}{% endfor %}",
        "{{ range(10 ** 9) | list }}",
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        "{{ 'a' * 1000000000 }}",
        "{{ [1] * 1000000000 }}",
        "{{ 2 ** 1000000 }}",
        "{{ (10 ** 1000) ** 1000 }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '%*d' % (999999999, 1) }}",
        "{% set ns = namespace(s='ab') %}"
        "{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set s = 'a' * 99999 %}{{ s + s }}",
        "{{ ('a' * 50000) | replace('', 'bbbbbbbbbb') }}",
        "{{ ('a' * 50000).replace('a', 'bbbbb') }}",
        "{{ (['a' * 50000] * 100) | join }}",
        "{{ (signals | tojson).center(1000000000) }}",
        "{{ signals | tojson(indent=1000000000) }}",
        "{{ ', '.join(['a' * 50000] * 100) }}",
        "{{ [[1] * 1000] * 1000 | sum(start=[]) }}",
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "{% macro f() %}{{ f() }}{{ f() }}{% endmacro %}{{ f() }}",
        "{% set s %}{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}",
        "{% for i in range(1000) %}{{ 'y' * 1000 }}{% endfor %}",
        "{% set s = 'a' * 1000000 %}{% set l = [s, s, s] %}{{ l | string | length }}",
        "{% set s = 'a' * 1000000 %}{{ [s, s, s] | length }}",
        "{% set s = 'a' * 1000000 %}{{ s ~ s ~ s }}",
        "{% set s = 'a' * 1000000 %}{{ '%s%s%s' % (s, s, s) }}",
        "{% set s = 'a' * 1000000 %}{% set ns = namespace(a=s) %}{% set ns.b = s %}"
        "{% set ns.c = s %}{{ ns | string | length }}",
        "{% set s = 'a' * 1000000 %}{{ [s, s, s] }}",
    ],
)
def test_runaway_templates_fail_fast(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError):
        render(source)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' | center(1000000000) }}",
        "{{ 'a' | indent(1000000000) }}",
        "{{ 'a' | wordwrap(5) }}",
        "{{ '%s' | format(1) }}",
        "{{ [1, 2] | batch(1000000000, 0) }}",
        "{{ 'a' | safe }}",
        "{{ [1, 2] | random }}",
    ],
)
def test_filters_that_can_amplify_or_are_not_deterministic_are_unavailable(source: str) -> None:
    with pytest.raises(TemplateError, match="No filter named"):
        TemplateAgent(source, agent_id="t")


def test_syntax_errors_give_the_template_line() -> None:
    with pytest.raises(TemplateError) as error:
        TemplateAgent("line one\nline two\n{% for x in %}\n", agent_id="t")
    assert error.value.lineno == 3
    assert error.value.message


def test_render_errors_give_the_template_line() -> None:
    agent = TemplateAgent("fine\n{{ signals[0].payload.missing.deeper }}\n", agent_id="t")
    with pytest.raises(TemplateError) as error:
        agent.compute(inp([article("a", {"title": "t"})]))
    assert error.value.lineno == 2
    assert "missing" in error.value.message


def test_undefined_names_are_errors_but_can_be_tested() -> None:
    with pytest.raises(TemplateError, match="nope"):
        render("{{ nope }}")
    assert render("{{ nope | default('fallback') }}") == Snippet(
        "fallback", None, {"signals_read": 0}
    )
    assert render("{% if nope is defined %}x{% else %}y{% endif %}") == Snippet(
        "y", None, {"signals_read": 0}
    )


def test_ordinary_template_features_still_work() -> None:
    source = (
        "{% set ns = namespace(total=0) %}"
        "{% for s in signals | sort(attribute='external_id') %}"
        "{% set ns.total = ns.total + s.payload.get('minutes', 0) %}"
        "{{ loop.index }}:{{ s.payload.title | upper }}{{ ', ' if not loop.last }}"
        "{% endfor %} = {{ ns.total }} min, {{ signals | map(attribute='payload.minutes')"
        " | select('number') | sum }} {{ 'a,b'.split(',') | join('+') }}"
        " {{ {'k': 1}.get('k') }} {{ '%05.1f' % 3.14159 }} {{ range(3) | list }}"
        " {{ {'b': [1], 'a': 'é'} | tojson }}"
    )
    snippet = render(source, ARTICLES[:2])
    assert snippet is not None
    assert snippet.text == (
        "1:WHY WE SLEEP, 2:DEEP WORK, REVISITED = 37 min, 37 a+b 1 003.1 [0, 1, 2]"
        ' {"a": "é", "b": [1]}'
    )


def test_one_agent_renders_for_many_users_independently() -> None:
    agent = TemplateAgent("{{ user.timezone }} {{ today }}", agent_id="t")
    paris = agent.compute(inp(now=datetime(2026, 5, 12, 23, 30, tzinfo=UTC)))
    tokyo = agent.compute(
        inp(now=datetime(2026, 5, 12, 23, 30, tzinfo=UTC), tz=ZoneInfo("Asia/Tokyo"))
    )
    assert paris is not None and paris.text == "Europe/Paris 2026-05-13"
    assert tokyo is not None and tokyo.text == "Asia/Tokyo 2026-05-13"


def test_the_reading_list_names_its_articles_as_items_shortest_first() -> None:
    snippet = reading_list().compute(inp(ARTICLES))
    assert snippet is not None and snippet.items
    assert all(i.ref.startswith("article:") for i in snippet.items)
    assert snippet.suggestion is not None and snippet.items[0].label in snippet.suggestion


def test_a_template_reads_its_state_and_the_hidden_refs() -> None:
    source = (
        "runs so far: {{ state.get('runs', 0) }}; hidden: {{ hidden | join(',') }}\n"
        "---items---\n"
        "{% for r in ['habit:run', 'habit:read'] if r not in hidden %}"
        "{{ r }} {{ r[6:] }}\n{% endfor %}"
    )
    base = inp()
    given = AgentInput(
        base.user, base.now, [], {}, state={"runs": 3}, hidden=frozenset({"habit:run"})
    )
    snippet = TemplateAgent(source, agent_id="t").compute(given)
    assert snippet is not None
    assert snippet.text == "runs so far: 3; hidden: habit:run"
    assert [(i.ref, i.label) for i in snippet.items] == [("habit:read", "read")]
