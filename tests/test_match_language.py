"""The watch-list language: spellings, aliases, field scope, proximity, nested groups, and its errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import ConfigError, load_config
from monitor.match import Matcher, WatchRule, term_problem
from monitor.rulelogic import words_in
from monitor.service import build_matcher
from monitor.watchlang import Condition, Group, Scoped, TermError, condition_from_yaml, parse_term
from tests.test_match import pieces

ALIASES = {"kayani": ("Kayani", "Kiyani", "Gen. Kayani"), "ispr": ("ISPR", "Inter-Services Public Relations")}


def fired(keywords: tuple[Condition, ...], title: str, body: str, **more: Any) -> list[str]:
    """The original substrings a one-rule matcher hit, as field:text, or [] if it did not fire."""
    rule = WatchRule(name="w", keywords=keywords, **more)
    matches = Matcher([rule], aliases=ALIASES).match(source_id="s", title=title, body=body)
    texts = {"title": title, "body": body}
    return [f"{h.field}:{texts[h.field][h.start:h.end]}" for m in matches for h in m.hits]


# (keywords, title, body, the hits; empty: the rule does not fire)
FORM_CASES = [
    pytest.param(("Kayani | Kiyani",), "", "Gen. Kiyani said", ["body:Kiyani"], id="alternatives"),
    pytest.param(('Kayani | "Gen. Kayani"',), "", "Gen. Kayani said", ["body:Gen. Kayani", "body:Kayani"],
                 id="alternatives-quoted-phrase"),
    pytest.param(("Kayani|Kiyani",), "", "Kiyani", ["body:Kiyani"], id="alternatives-without-spaces"),
    pytest.param(('"ISPR | COAS"',), "", "ISPR | COAS", ["body:ISPR | COAS"], id="quotes-make-operators-literal"),
    pytest.param(("@kayani",), "", "Kiyani met", ["body:Kiyani"], id="alias"),
    pytest.param(("@KAYANI",), "", "Kiyani met", ["body:Kiyani"], id="alias-name-case-insensitive"),
    pytest.param(("Ashfaq | @kayani",), "", "Ashfaq and Kayani", ["body:Ashfaq", "body:Kayani"],
                 id="alias-among-alternatives"),
    pytest.param(('"@kayani"',), "", "mail @kayani now", ["body:@kayani"], id="quoted-at-is-text"),
    pytest.param(("title:ISPR",), "ISPR: statement", "", ["title:ISPR"], id="title-scope"),
    pytest.param(("title:ISPR",), "A statement", "ISPR said", [], id="title-scope-ignores-body"),
    pytest.param(("body:ISPR",), "ISPR: statement", "", [], id="body-scope-ignores-title"),
    pytest.param(("title: @ispr",), "Inter-Services Public Relations", "", ["title:Inter-Services Public Relations"],
                 id="title-scope-of-alias"),
    pytest.param((Scoped(field="title", item="COAS"),), "COAS visit", "COAS", ["title:COAS"], id="title-mapping"),
    pytest.param((Scoped(field="title", item=Group(kind="all", items=("COAS", "Quetta"))),),
                 "COAS visit", "Quetta", [], id="title-mapping-scopes-a-group"),
    pytest.param(("Kayani ~3 Dunford",), "", "Kayani met Gen. Joseph Dunford", ["body:Kayani", "body:Dunford"],
                 id="near-within"),
    pytest.param(("Kayani ~2 Dunford",), "", "Kayani met Gen. Joseph Dunford", [], id="near-too-far"),
    pytest.param(("Kayani ~0 Dunford",), "", "Dunford, Kayani", ["body:Dunford", "body:Kayani"],
                 id="near-either-order"),
    pytest.param(("Kayani ~0 talks",), "", "Kayani’s talks", ["body:Kayani", "body:talks"],
                 id="near-possessive-is-not-a-word"),
    pytest.param(("Kayani ~5 Dunford",), "Kayani", "Dunford", [], id="near-same-field-only"),
    pytest.param(("@kayani ~2 Dunford | ISAF",), "", "the ISAF chief and Kiyani", ["body:ISAF", "body:Kiyani"],
                 id="near-of-alternatives"),
    pytest.param(("title:Kayani ~1 Dunford",), "Kayani and Dunford", "Kayani and Dunford",
                 ["title:Kayani", "title:Dunford"], id="near-in-title"),
    pytest.param(("کراچی ~1 لاہور",), "", "كراچي اور لاہور", ["body:كراچي", "body:لاہور"], id="near-in-urdu"),
    pytest.param((Group(kind="all", items=("Kayani", "Dunford")), "ISAF"), "", "Kayani alone", [],
                 id="group-all-missing"),
    pytest.param((Group(kind="all", items=("Kayani", "Dunford")), "ISAF"), "Dunford", "and Kayani",
                 ["title:Dunford", "body:Kayani"], id="group-all-across-fields"),
    pytest.param((Group(kind="all", items=("Kayani", "Dunford")), "ISAF"), "", "ISAF", ["body:ISAF"],
                 id="group-any-other-branch"),
    pytest.param((Group(kind="all", items=("Pakistan", Group(kind="none", items=("cricket",)))),), "",
                 "Pakistan cricket", [], id="group-none-nested"),
    pytest.param((Group(kind="all", items=("Pakistan", Group(kind="none", items=("cricket",)))),), "",
                 "Pakistan army", ["body:Pakistan"], id="group-none-nested-holds"),
    pytest.param(("/gen(eral)?|munir/ | COAS",), "", "COAS Munir", ["body:COAS", "body:Munir"],
                 id="regex-with-bar-among-alternatives"),
    pytest.param(("/a/b/",), "", "a/b", ["body:a/b"], id="whole-regex-with-slash"),
    pytest.param(("AT&T",), "", "AT&T said", ["body:AT&T"], id="plain-term-unchanged"),
    pytest.param(("title:",), "", "", [], id="never-fires-on-nothing"),
]


class TestForms:
    @pytest.mark.parametrize(("keywords", "title", "body", "expected"), FORM_CASES)
    def test_form(self, keywords: tuple[Condition, ...], title: str, body: str, expected: list[str]) -> None:
        """Each form of the language hits exactly the original substrings the table lists."""
        if any(isinstance(k, str) and term_problem(k, ALIASES) for k in keywords):
            with pytest.raises(ValueError):
                fired(keywords, title, body)
            return
        assert fired(keywords, title, body) == expected

    def test_exclude_takes_forms(self) -> None:
        """An exclude term may use the language too: a title-only exclusion spares the body."""
        assert fired(("Pakistan",), "Pakistan", "a cricket score", exclude=("title:cricket",)) == ["title:Pakistan"]
        assert fired(("Pakistan",), "Cricket: Pakistan", "", exclude=("title:cricket",)) == []

    def test_require_takes_groups(self) -> None:
        """A require list may hold a group: here one of two spellings must be there too."""
        require = (Group(kind="any", items=("Quetta", "Gwadar")),)
        assert fired(("ISPR",), "ISPR", "in Gwadar", require=require) == ["title:ISPR", "body:Gwadar"]
        assert fired(("ISPR",), "ISPR", "in Pasni", require=require) == []


# (term, a fragment of the problem; None: usable)
PROBLEMS = [
    pytest.param("Kayani | Kiyani", None, id="alternatives"),
    pytest.param("a |", "ends with an operator", id="trailing-bar"),
    pytest.param("| a", "needs a term on each side", id="leading-bar"),
    pytest.param("a || b", "needs a term on each side", id="double-bar"),
    pytest.param("a ~ b", "needs a number of words", id="tilde-without-number"),
    pytest.param("a ~3", "ends with an operator", id="near-without-right"),
    pytest.param("a ~3 b ~4 c", "joins exactly two terms", id="near-of-three"),
    pytest.param("a ~5000 b", "too far", id="near-too-far"),
    pytest.param('"Gen. Kayani', "does not close", id="unclosed-quote"),
    pytest.param('Gen. "Kayani"', "around a whole phrase", id="quote-inside-phrase"),
    pytest.param('""', "empty", id="empty-quotes"),
    pytest.param("a b", None, id="phrase"),
    pytest.param("Kayani | /x", "does not end with one", id="unclosed-regex-alternative"),
    pytest.param("AC/DC | 9/11", None, id="slash-inside-a-phrase"),
    pytest.param("a | /[/", "not a valid regular expression", id="bad-regex-alternative"),
    pytest.param("title:", "has a field but no term", id="field-without-term"),
    pytest.param("@", "not an alias reference", id="bare-at"),
    pytest.param("@nope", "names no alias", id="unknown-alias"),
    pytest.param("Kayani | @kayani", None, id="alias-alternative"),
    pytest.param("title: a ~2 @ispr", None, id="everything"),
]


class TestProblems:
    @pytest.mark.parametrize(("term", "problem"), PROBLEMS)
    def test_term_problem(self, term: str, problem: str | None) -> None:
        """term_problem accepts every form of the language and names what is wrong with bad terms."""
        found = term_problem(term, ALIASES)
        if problem is None:
            assert found is None
        else:
            assert found is not None and problem in found

    def test_aliases_unchecked_before_they_are_known(self) -> None:
        """Without aliases, @name passes the syntax check (the loader checks names later)."""
        assert term_problem("@nope") is None

    def test_parse_of_plain_term_keeps_it_as_written(self) -> None:
        """A term without syntax is one spelling, spaces and all, so old hits keep their term."""
        assert parse_term(" ISPR ").left == (" ISPR ",)

    def test_precedence(self) -> None:
        """'|' binds tighter than '~N', and the field prefix covers the whole term."""
        parsed = parse_term("title: Kayani | Kiyani ~10 Dunford", ALIASES)
        assert (parsed.field, parsed.left, parsed.right, parsed.within) == (
            "title", ("Kayani", "Kiyani"), ("Dunford",), 10)

    @pytest.mark.parametrize(
        ("value", "problem"),
        [
            pytest.param({"all": ["a", "/[/"]}, "all[1]: '/[/' is not a valid", id="bad-term-in-group"),
            pytest.param({"any": [{"all": ["x", {"none": []}]}]}, "any[0].all[1].none: is an empty list",
                         id="empty-nested-group"),
            pytest.param({"all": ["a"], "any": ["b"]}, "exactly one key", id="two-keys"),
            pytest.param({"near": ["a", "b"]}, "exactly one key", id="unknown-key"),
            pytest.param(["a"], "got a list", id="bare-list"),
            pytest.param(True, "put it in quotes", id="boolean"),
        ],
    )
    def test_group_problems(self, value: object, problem: str) -> None:
        """A bad group names the place inside it that is wrong."""
        with pytest.raises(TermError) as caught:
            condition_from_yaml(value, term_problem)
        assert problem in str(caught.value)


class TestWords:
    @pytest.mark.parametrize(
        ("text", "count"),
        [
            pytest.param(" met Gen. Joseph ", 3, id="words"),
            pytest.param(" — , ", 0, id="punctuation"),
            pytest.param(" Kayani's ", 1, id="possessive-one-word"),
            pytest.param(" Inter-Services ", 2, id="hyphen-separates"),
            pytest.param(" مُحَمَّد اور ", 2, id="harakat-inside-a-word"),
            pytest.param("東京都", 3, id="characters-of-continuous-scripts"),
        ],
    )
    def test_words_in(self, text: str, count: int) -> None:
        """Words are runs of letters, digits and marks; a continuous script counts each character."""
        assert words_in(text) == count


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


CONFIG = 'database: db.sqlite\nchannels: {desk: "console://"}\naliases: ALIASES\nwatchlists: [wl/*.yaml]\n'


def config_text(aliases: str) -> str:
    return CONFIG.replace("ALIASES", aliases)


class TestConfig:
    def test_aliases_file_and_language_load(self, tmp_path: Path) -> None:
        """A config with an aliases file and a watch list using every form builds a matcher that fires."""
        write(tmp_path / "aliases.yaml", 'kayani: [Kayani, Kiyani, "Gen. Kayani"]\nispr: ISPR\n')
        write(tmp_path / "wl" / "a.yaml", (
            "keywords:\n"
            "  - \"@kayani ~10 Dunford\"\n"
            "  - title: [COAS, \"@ispr\"]\n"
            "  - {all: [Karachi, Lahore]}\n"
            "exclude: [title:cricket]\n"
            "notify: desk\n"
        ))
        config = load_config(write(tmp_path / "monitor.yaml", config_text("aliases.yaml")))
        assert config.aliases == {"kayani": ("Kayani", "Kiyani", "Gen. Kayani"), "ispr": ("ISPR",)}
        assert tmp_path / "aliases.yaml" in config.files
        matcher = build_matcher(config)
        assert matcher.match(source_id="s", title="ISPR statement", body="")
        assert matcher.match(source_id="s", title="", body="Kiyani met Dunford")
        assert not matcher.match(source_id="s", title="Cricket", body="Kiyani met Dunford")
        assert not matcher.match(source_id="s", title="", body="ISPR")

    def test_inline_aliases(self, tmp_path: Path) -> None:
        """aliases: may be a mapping written in the config itself."""
        write(tmp_path / "wl" / "a.yaml", 'keywords: ["@coas"]\nnotify: desk\n')
        config = load_config(write(tmp_path / "monitor.yaml", config_text("{coas: [COAS, Army chief]}")))
        assert build_matcher(config).match(source_id="s", title="the army chief", body="")

    def test_problems_have_file_and_line(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Bad aliases and bad terms are each reported as FILE:LINE: field: problem, all at once."""
        write(tmp_path / "aliases.yaml", "kayani: [Kayani]\nbad name: [x]\nempty: []\nmulti: ['a | b']\n")
        write(tmp_path / "wl" / "a.yaml", (
            "keywords:\n"
            "  - Kayani | Kiyani\n"
            "  - any: [x, {none: []}]\n"
            "  - \"@nope\"\n"
            "  - \"a |\"\n"
            "  - {all: [\"@kayani\", \"@other\"]}\n"
            "notify: desk\n"
        ))
        write(tmp_path / "monitor.yaml", config_text("[aliases.yaml, missing.yaml]"))
        monkeypatch.chdir(tmp_path)
        with pytest.raises(ConfigError) as caught:
            load_config(Path("monitor.yaml"))
        lines = [str(p) for p in caught.value.problems]
        assert lines == [
            "monitor.yaml:3: aliases[1]: 'missing.yaml' matches no file (expected a file of aliases, relative to .)",
            "aliases.yaml:2: bad name: 'bad name' is not an alias name "
            "(expected letters, digits, - and _, like kayani)",
            "aliases.yaml:3: empty: got an empty list (expected a list of spellings, like [Kayani, Kiyani])",
            "aliases.yaml:4: multi[0]: 'a | b' is not a single spelling "
            "(write each variant as its own list item, without | ~ @ or title:)",
            "wl/a.yaml:3: keywords[1]: any[1].none: is an empty list (expected at least one term)",
            "wl/a.yaml:4: keywords[2]: '@nope' names no alias "
            "(known: kayani; to match the text itself, quote it: '\"@nope\"')",
            "wl/a.yaml:5: keywords[3]: 'a |' ends with an operator (expected a term after '|' or '~N')",
            "wl/a.yaml:6: keywords[4].all[1]: '@other' names no alias "
            "(known: kayani; to match the text itself, quote it: '\"@other\"')",
        ]

    def test_unquoted_at_gets_a_hint(self, tmp_path: Path) -> None:
        """YAML refuses a plain @kayani; the message says to quote it."""
        write(tmp_path / "wl" / "a.yaml", "keywords: [@kayani]\nnotify: desk\n")
        with pytest.raises(ConfigError) as caught:
            load_config(write(tmp_path / "monitor.yaml", config_text("{kayani: [Kayani]}")))
        assert 'in quotes, like "@kayani"' in str(caught.value.problems[0])



def spans(keywords: tuple[Condition, ...], text: str) -> set[tuple[int, int]]:
    matches = Matcher([WatchRule(name="w", keywords=keywords)]).match(source_id="s", title="", body=text)
    return {(h.start, h.end) for m in matches for h in m.hits}


def reference_near(text: str, a: tuple[int, int], b: tuple[int, int], within: int) -> bool:
    """At most ``within`` words between two hits, counted as the words from the first hit's
    start to the second's, less the first hit's own (so "Kayani's" adds none)."""
    first, second = sorted((a, b))
    if second[0] <= first[1]:
        return True
    return words_in(text[first[0] : second[0]]) - words_in(text[first[0] : first[1]]) <= within


usable = pieces.filter(lambda t: term_problem(t) is None)
FILLER = ["and", "the", "Gen.", "x1", "ñ", "ﬁne", "東", "فوج", "it’s"]
SEPARATORS = [" ", " - ", "\n", ", ", "’s ", "  "]
RELAXED = settings(max_examples=150, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class TestAgainstParts:
    @RELAXED
    @given(text=pieces, one=usable, other=usable)
    def test_alternatives_are_the_union_of_their_parts(self, text: str, one: str, other: str) -> None:
        """'"A" | "B"' hits exactly where A alone or B alone hits."""
        assert spans((f'"{one}" | "{other}"',), text) == spans((one,), text) | spans((other,), text)

    @RELAXED
    @given(data=st.data(), one=usable, other=usable, within=st.integers(0, 3))
    def test_proximity_agrees_with_every_pair(self, data: st.DataObject, one: str, other: str, within: int) -> None:
        """'"A" ~N "B"' fires exactly when some hit of A and some hit of B have at most N words between them."""
        # Random text alone seldom holds both terms, let alone N words apart: put them there,
        # with one word fewer, exactly N, or one more between, so an off-by-one shows.
        gap = data.draw(st.integers(max(within - 1, 0), within + 1), label="words between")
        filler = data.draw(st.lists(st.sampled_from(FILLER), min_size=gap, max_size=gap), label="filler")
        first, second = data.draw(st.sampled_from([(one, other), (other, one)]), label="order")
        seps = st.sampled_from(SEPARATORS)
        middle = "".join(data.draw(seps) + word for word in filler)
        text = (data.draw(pieces, label="before") + data.draw(seps) + first + middle + data.draw(seps) + second
                + data.draw(seps) + data.draw(pieces, label="after"))
        lefts, rights = spans((one,), text), spans((other,), text)
        expected = any(reference_near(text, a, b, within) for a in lefts for b in rights)
        assert bool(spans((f'"{one}" ~{within} "{other}"',), text)) is expected


@pytest.fixture(scope="module")
def releases() -> list[tuple[str, str]]:
    """(first line, rest) of each ISAF press release in ../shared/corpus, or a clean skip."""
    path = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "isaf-press-releases" / "press_releases.jsonl"
    if not path.is_file():
        pytest.skip(f"../shared/corpus not found (looked for {path})")
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").split("\n") if line]
    return [(title, body) for title, _, body in (t.partition("\n") for t in texts)]


class TestOnRealReleases:
    def test_proximity_on_real_text(self, releases: list[tuple[str, str]]) -> None:
        """'Afghan ~1 forces' fires on exactly the releases where at most one word separates them (by regex)."""
        near = re.compile(r"\bafghan\b\W+(?:\w+\W+)?forces\b|\bforces\b\W+(?:\w+\W+)?afghan\b", re.IGNORECASE)
        matcher = Matcher([WatchRule(name="w", keywords=("Afghan ~1 forces",))])
        fired_on = [i for i, (t, b) in enumerate(releases) if matcher.match(source_id="s", title=t, body=b)]
        expected = [i for i, (t, b) in enumerate(releases) if near.search(t) or near.search(b)]
        assert fired_on == expected and len(expected) > 50

    def test_alternatives_and_groups_on_real_text(self, releases: list[tuple[str, str]]) -> None:
        """A group of alternatives fires on the releases a plain-Python check of the same logic picks."""
        keywords: tuple[Condition, ...] = (Group(kind="all", items=("Taliban | insurgent", "body:Helmand")),)
        matcher = Matcher([WatchRule(name="w", keywords=keywords, exclude=("killed",))])
        fired_on = [i for i, (t, b) in enumerate(releases) if matcher.match(source_id="s", title=t, body=b)]

        def has(word: str, text: str) -> bool:
            return re.search(rf"\b{word}\b", text, re.IGNORECASE) is not None

        expected = [i for i, (t, b) in enumerate(releases)
                    if (has("taliban", t + " " + b) or has("insurgent", t + " " + b)) and has("helmand", b)
                    and not has("killed", t + " " + b)]
        assert fired_on == expected and len(expected) > 5
