"""The matching stage: term semantics, rule logic, hits, snippets, term problems, normal form."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from monitor import textnorm
from monitor.match import Matcher, WatchRule, snippet, term_problem
from monitor.models import Hit, Match, Snippet
from monitor.textnorm import normalise


def hits_of(term: str, text: str) -> list[str]:
    """The original substrings of ``text`` where ``term`` matches, via a one-term matcher."""
    matcher = Matcher([WatchRule(name="w", keywords=(term,))])
    matches = matcher.match(source_id="s", title="", body=text)
    return [text[h.start : h.end] for m in matches for h in m.hits]


# (term, text, the original substrings it must hit; empty: no match)
TERM_CASES = [
    pytest.param("ISAF", "ISAF troops", ["ISAF"], id="plain-word"),
    pytest.param("isaf", "Two ISAF troops", ["ISAF"], id="case-insensitive"),
    pytest.param("ISAF", "ISAFE is not ISAF.", ["ISAF"], id="longer-word-does-not-match"),
    pytest.param("ISPR", "CRISPR/Cas nucleases", [], id="no-hit-inside-crispr"),
    pytest.param("ISPR", '{"isPresent":false,"isPreview":true}', [], id="no-hit-inside-camel-case"),
    pytest.param("ISPR", "ISPR2 and 2ISPR", [], id="digits-are-word-characters"),
    pytest.param(
        "ISPR", "(ISPR) ispr_official #ISPR", ["ISPR", "ispr", "ISPR"], id="punctuation-and-underscore-separate"
    ),
    pytest.param("Kayani", "Gen. Kayani's visit", ["Kayani"], id="possessive-straight-apostrophe"),
    pytest.param("Kayani", "Gen. Kayani’s visit", ["Kayani"], id="possessive-curly-apostrophe"),
    pytest.param("Kayani", "the Kayanis", [], id="plural-is-a-longer-word"),
    pytest.param("O'Brien", "Mr O’Brien said", ["O’Brien"], id="apostrophe-in-term-matches-curly"),
    pytest.param(
        "Inter-Services Public Relations",
        "the Inter Services  Public-Relations said",
        ["Inter Services  Public-Relations"],
        id="separator-runs-are-equal",
    ),
    pytest.param("Joseph Dunford", "Gen. Joseph\n\tDunford", ["Joseph\n\tDunford"], id="phrase-across-line-break"),
    pytest.param("Inter-Services", "Inter — Services", ["Inter — Services"], id="dash-with-spaces"),
    pytest.param("Inter-Services", "InterServices", [], id="separator-is-not-optional"),
    pytest.param("ISPR", "ＩＳＰＲ said", ["ＩＳＰＲ"], id="nfkc-fullwidth"),
    pytest.param("final", "the ﬁnal word", ["ﬁnal"], id="nfkc-ligature"),
    pytest.param("Strasse", "in der Straße", ["Straße"], id="casefold-sharp-s"),
    pytest.param("Straße", "STRASSE 5", ["STRASSE"], id="casefold-sharp-s-in-term"),
    pytest.param("Senor", "Señor Ortega", ["Señor"], id="term-without-diacritics-folds"),
    pytest.param("Señor", "Senor Ortega", [], id="term-with-diacritics-requires-them"),
    pytest.param("Señor", "SEÑOR Ortega", ["SEÑOR"], id="diacritics-case-insensitive"),
    pytest.param("Señor", "Sen\u0303or Ortega", ["Sen\u0303or"], id="decomposed-diacritic"),
    pytest.param("Lodz", "Łódź", ["Łódź"], id="fold-stroke-letters"),
    pytest.param("Kayani", "Kay\u00adani", ["Kay\u00adani"], id="soft-hyphen-ignored"),
    pytest.param("کراچی", "كراچي میں", ["كراچي"], id="urdu-arabic-kaf-and-yeh"),
    pytest.param("شہباز", "شهباز شریف", ["شهباز"], id="urdu-heh-variants"),
    pytest.param("جماعۃ", "جماعة", ["جماعة"], id="teh-marbuta"),
    pytest.param("احمد", "أحمد", ["أحمد"], id="alef-hamza"),
    pytest.param("محمد", "مُحَمَّد", ["مُحَمَّد"], id="harakat-ignored"),
    pytest.param("محمد", "محـــمد", ["محـــمد"], id="tatweel-ignored"),
    pytest.param("آب", "اب", [], id="alef-madda-is-a-letter"),
    pytest.param("فوج", "پاک فوج کے", ["فوج"], id="urdu-whole-word"),
    pytest.param("فوج", "فوجی امداد", [], id="urdu-longer-word"),
    pytest.param("F-16", "F-16 jets, not F-160", ["F-16"], id="digits-in-term"),
    pytest.param("2023", "سال ۲۰۲۳ میں", ["۲۰۲۳"], id="extended-digits"),
    pytest.param("東京", "東京都で", ["東京"], id="no-boundary-in-japanese"),
    pytest.param("ISAF", "ISAF部隊", ["ISAF"], id="script-change-is-a-boundary"),
    pytest.param(
        "/gen(eral)? (asim )?munir/", "General  Asim\nMunir", ["General  Asim\nMunir"], id="regex-sees-one-space"
    ),
    pytest.param("/ispr/", "CRISPR", ["ISPR"], id="regex-has-no-implicit-boundary"),
    pytest.param(r"/\bispr\b/", "CRISPR and ISPR", ["ISPR"], id="regex-with-boundary"),
    pytest.param("/strasse/", "Straße", ["Straße"], id="regex-sees-casefolded-text"),
    pytest.param("/señor/", "Senor", [], id="regex-keeps-diacritics"),
    pytest.param("/كراچي|kayani’s/", "كراچي, Kayani's", ["كراچي", "Kayani's"], id="regex-written-like-the-text"),
    pytest.param("İstanbul", "Istanbul and İSTANBUL", ["Istanbul", "İSTANBUL"], id="turkish-dotted-capital-i"),
    pytest.param("İçişleri", "I\u0307çişleri Bakanlığı", ["I\u0307çişleri"], id="turkish-dotted-capital-i-decomposed"),
    pytest.param("“Joseph Dunford” | «Kayani»", "Gen. Joseph Dunford", ["Joseph Dunford"], id="typographic-quotes"),
    # The text's hyphens and underscores are spaces in the normal form; a regex's literal ones are too.
    pytest.param("/F-16/", "F-16 jets and F 16s", ["F-16", "F 16"], id="regex-hyphen"),
    pytest.param(r"/\d+-\d+/", "won 3-1", ["3-1"], id="regex-hyphen-between-classes"),
    pytest.param("/[a-z]+-e-[a-z]+/", "Operation Zarb-e-Azb", ["Zarb-e-Azb"], id="regex-range-kept"),
    pytest.param("/kayani_x/", "user kayani_x", ["kayani_x"], id="regex-underscore"),
    pytest.param("/ab[-_]cd/", "ab-cd", ["ab-cd"], id="regex-class-with-a-hyphen"),
    pytest.param("/(?P<first_word>isaf)-x/", "ISAF-X", ["ISAF-X"], id="regex-group-name-kept"),
    pytest.param("/(?-i:nato) forces/", "NATO forces", ["NATO forces"], id="regex-inline-flags-kept"),
    pytest.param(r"/[\w-]+stan/", "Af-ghanistan", ["Af-ghanistan"], id="regex-class-ending-in-a-hyphen"),
    pytest.param("/(?x) f-16 /", "F-16 jets", ["F-16"], id="regex-verbose-hyphen"),
    pytest.param(r"/f\N{HYPHEN-MINUS}16/", "F-16 jets", ["F-16"], id="regex-named-hyphen"),
    pytest.param("İçişleri", "i\u0307çişleri", ["i\u0307çişleri"], id="turkish-dotted-capital-i-lowered"),
    pytest.param("/(?P<the_unit>isaf )?(?(the_unit)troops|forces)/", "ISAF troops", ["ISAF troops"],
                 id="regex-conditional-group-name-kept"),
]


class TestTermSemantics:
    @pytest.mark.parametrize(("term", "text", "expected"), TERM_CASES)
    def test_term_hits(self, term: str, text: str, expected: list[str]) -> None:
        """A term hits exactly the original substrings the table lists."""
        assert hits_of(term, text) == expected


# (rule, title, body, fires)
RULE_CASES = [
    pytest.param(WatchRule(name="w", keywords=("ISPR", "COAS")), "", "the COAS said", True, id="any-keyword"),
    pytest.param(WatchRule(name="w", keywords=("ISPR",)), "", "nothing here", False, id="no-keyword"),
    pytest.param(
        WatchRule(name="w", keywords=("ISPR",), require=("Gwadar", "martyred")),
        "ISPR: soldiers martyred",
        "near Gwadar",
        True,
        id="all-require-across-fields",
    ),
    pytest.param(
        WatchRule(name="w", keywords=("ISPR",), require=("Gwadar", "martyred")),
        "ISPR: soldiers martyred",
        "near Pasni",
        False,
        id="missing-require",
    ),
    pytest.param(
        WatchRule(name="w", keywords=("Pakistan",), exclude=("cricket",)),
        "Pakistan wins",
        "a cricket match",
        False,
        id="exclude-in-body-vetoes",
    ),
    pytest.param(
        WatchRule(name="w", keywords=("Pakistan",), exclude=("cricket",)),
        "Cricket: Pakistan wins",
        "",
        False,
        id="exclude-in-title-vetoes",
    ),
    pytest.param(
        WatchRule(name="w", keywords=("Pakistan",), exclude=("cricket",)),
        "Pakistan wins",
        "the crickets sang",
        True,
        id="exclude-is-whole-word-too",
    ),
    pytest.param(
        WatchRule(name="w", keywords=(), require=("ISPR", "Khyber")), "ISPR", "in Khyber", True, id="require-only"
    ),
    pytest.param(
        WatchRule(name="w", keywords=(), require=("ISPR", "Khyber")), "ISPR", "", False, id="require-only-missing"
    ),
]


class TestRules:
    @pytest.mark.parametrize(("rule", "title", "body", "fires"), RULE_CASES)
    def test_rule_logic(self, rule: WatchRule, title: str, body: str, fires: bool) -> None:
        """Keywords (any), require (all) and exclude (none, either field) decide whether a rule fires."""
        assert bool(Matcher([rule]).match(source_id="s", title=title, body=body)) is fires

    @pytest.mark.parametrize(
        ("sources", "source_id", "fires"),
        [
            pytest.param(None, "dawn", True, id="every-source"),
            pytest.param(frozenset({"ispr", "dawn"}), "dawn", True, id="listed-source"),
            pytest.param(frozenset({"ispr"}), "dawn", False, id="other-source"),
        ],
    )
    def test_sources(self, sources: frozenset[str] | None, source_id: str, fires: bool) -> None:
        """A rule with sources fires only on items from those sources."""
        matcher = Matcher([WatchRule(name="w", keywords=("ISPR",), sources=sources)])
        assert bool(matcher.match(source_id=source_id, title="ISPR", body="")) is fires

    def test_rules_fire_in_rule_order(self) -> None:
        """Every rule that fires gives one Match, in the order the rules were given."""
        rules = [
            WatchRule(name="b", keywords=("Khyber",)),
            WatchRule(name="none", keywords=("Karachi",)),
            WatchRule(name="a", keywords=("ISPR",)),
        ]
        matches = Matcher(rules).match(source_id="s", title="ISPR", body="in Khyber")
        assert [m.watchlist for m in matches] == ["b", "a"]

    def test_invalid_term_is_refused(self) -> None:
        """Matcher refuses a rule with an unusable term instead of matching it wrongly."""
        with pytest.raises(ValueError, match="not a valid regular expression"):
            Matcher([WatchRule(name="w", keywords=("/[/",))])

    def test_rule_that_cannot_fire_is_refused(self) -> None:
        """Matcher refuses a rule with neither keywords nor require terms."""
        with pytest.raises(ValueError, match="neither keywords nor require"):
            Matcher([WatchRule(name="w", keywords=(), exclude=("cricket",))])


class TestMatchValue:
    def test_full_match(self) -> None:
        """A Match carries its terms in first-hit order (title first), every hit, and snippets with hits
        marked, cut from the main text where the term is in it: the title is in the alert already."""
        rule = WatchRule(name="afpak", keywords=("COAS", "ISPR"), require=("Khyber", "ISPR"))
        title = "Khyber operation: ISPR"
        body = "RAWALPINDI – The COAS visited Khyber, ISPR said."
        [found] = Matcher([rule]).match(source_id="s", title=title, body=body)
        assert found == Match(
            watchlist="afpak",
            terms=("Khyber", "ISPR", "COAS"),
            snippet=body,
            hits=(
                Hit(term="Khyber", field="title", start=0, end=6),
                Hit(term="ISPR", field="title", start=18, end=22),
                Hit(term="COAS", field="body", start=17, end=21),
                Hit(term="Khyber", field="body", start=30, end=36),
                Hit(term="ISPR", field="body", start=38, end=42),
            ),
            snippets=(Snippet(term="COAS", field="body", text=body, marks=((17, 21), (30, 36), (38, 42))),),
        )

    def test_a_term_only_in_the_title_gets_the_title_as_its_snippet(self) -> None:
        """Without a hit in the main text, the title is the only context there is."""
        [found] = Matcher([WatchRule(name="w", keywords=("COAS", "Khyber"))]).match(
            source_id="s", title="COAS visits Khyber", body="The army chief met the corps in Khyber.")
        assert [(s.term, s.field) for s in found.snippets] == [("Khyber", "body"), ("COAS", "title")]

    @pytest.mark.parametrize(
        ("text", "term", "expected"),
        [
            pytest.param("Straße, ﬁnal: ISPR", "ISPR", "ISPR", id="after-expanding-characters"),
            pytest.param("ma\u0301s\u200c ISPR", "ISPR", "ISPR", id="after-decomposed-and-dropped"),
            pytest.param(
                "a  \n - b Inter -  Services c", "Inter-Services", "Inter -  Services", id="collapsed-run-inside"
            ),
            pytest.param("x STRASSE y", "Straße", "STRASSE", id="term-shorter-than-text"),
            pytest.param("x Straße y", "strasse", "Straße", id="text-shorter-than-normal-form"),
            pytest.param("😀 𠀋 ISPR", "ISPR", "ISPR", id="after-astral-characters"),
        ],
    )
    def test_hit_offsets_are_original(self, text: str, term: str, expected: str) -> None:
        """Hit offsets index the original string even where normalising changed its length."""
        assert hits_of(term, text) == [expected]

    def test_terms_are_deduped(self) -> None:
        """A term listed as keyword and require term, and hit twice, appears once in terms."""
        rule = WatchRule(name="w", keywords=("ISPR",), require=("ISPR",))
        [found] = Matcher([rule]).match(source_id="s", title="", body="ISPR and ISPR")
        assert found.terms == ("ISPR",)
        assert len(found.hits) == 2

    def test_overlapping_terms_both_hit(self) -> None:
        """A phrase and a word inside it both hit, the earlier-starting one first."""
        rule = WatchRule(name="w", keywords=("Public Relations", "Inter-Services Public Relations"))
        [found] = Matcher([rule]).match(source_id="s", title="", body="the Inter-Services Public Relations")
        assert found.terms == ("Inter-Services Public Relations", "Public Relations")


LONG = " ".join(f"word{i:03}" for i in range(100))


def marked(found: Snippet) -> list[str]:
    return [found.text[start:end] for start, end in found.marks]


class TestMatchSnippets:
    def test_each_term_far_apart_gets_its_own_snippet(self) -> None:
        """Two terms too far apart for one snippet each get a snippet, in first-hit order."""
        body = f"ISPR said. {LONG} {LONG} The COAS visited."
        [found] = Matcher([WatchRule(name="w", keywords=("COAS", "ISPR"))]).match(source_id="s", title="", body=body)
        assert [s.term for s in found.snippets] == ["ISPR", "COAS"]
        assert [marked(s) for s in found.snippets] == [["ISPR"], ["COAS"]]
        assert found.snippet == found.snippets[0].text

    def test_a_term_inside_an_earlier_snippet_gets_none(self) -> None:
        """A term whose first hit already shows in an earlier snippet is marked there, not given another."""
        [found] = Matcher([WatchRule(name="w", keywords=("COAS", "ISPR"))]).match(
            source_id="s", title="", body="ISPR said the COAS visited.")
        [only] = found.snippets
        assert only.term == "ISPR" and marked(only) == ["ISPR", "COAS"]

    def test_marks_follow_collapsed_whitespace(self) -> None:
        """Marks index the snippet text, whose whitespace runs are one space, not the original."""
        body = "the\n\n   Inter -   Services   Public Relations   said"
        [found] = Matcher([WatchRule(name="w", keywords=("Inter-Services Public Relations",))]).match(
            source_id="s", title="", body=body)
        assert marked(found.snippets[0]) == ["Inter - Services Public Relations"]

    def test_overlapping_hits_are_one_mark(self) -> None:
        """A phrase and a word inside it are marked once, as the longer span."""
        rule = WatchRule(name="w", keywords=("Public Relations", "Inter-Services Public Relations"))
        [found] = Matcher([rule]).match(source_id="s", title="", body="the Inter-Services Public Relations wing")
        [only] = found.snippets
        assert marked(only) == ["Inter-Services Public Relations"]

    def test_marks_skip_the_leading_ellipsis(self) -> None:
        """In a snippet cut on the left, marks count the '…' that starts it."""
        body = f"{LONG} ISPR {LONG}"
        [found] = Matcher([WatchRule(name="w", keywords=("ISPR",))]).match(source_id="s", title="", body=body)
        assert found.snippets[0].text.startswith("…") and marked(found.snippets[0]) == ["ISPR"]


class TestSnippet:
    @pytest.mark.parametrize(
        ("text", "start", "end", "expected"),
        [
            pytest.param("ISPR said", 0, 4, "ISPR said", id="short-text-whole"),
            pytest.param("  the\n\nISPR   said \n", 7, 11, "the ISPR said", id="whitespace-collapsed"),
            pytest.param(
                LONG,
                LONG.index("word050"),
                LONG.index("word050") + 7,
                "…word041 word042 word043 word044 word045 word046 word047 word048 word049 word050 "
                "word051 word052 word053 word054 word055 word056 word057 word058 word059…",
                id="cut-at-words-both-sides",
            ),
            pytest.param(
                LONG, 0, 7, "word000 " + " ".join(f"word{i:03}" for i in range(1, 19)) + " word019…", id="start-of-text"
            ),
            pytest.param(
                LONG, len(LONG) - 7, len(LONG), "…" + " ".join(f"word{i:03}" for i in range(80, 100)), id="end-of-text"
            ),
            pytest.param("東京" * 200, 200, 204, "…" + "東京" * 80 + "…", id="no-spaces-cut-anywhere"),
        ],
    )
    def test_snippet(self, text: str, start: int, end: int, expected: str) -> None:
        """A snippet is about 160 characters around the hit, cut at spaces, with '…' where trimmed."""
        assert snippet(text, start, end) == expected

    @pytest.mark.parametrize("around", ["🇵🇰🇦🇫", "👩\u200d💻", "e\u0301", "\u0915\u094d\u0937"],
                             ids=["flags", "joined-emoji", "combining-accent", "devanagari-conjunct"])
    def test_a_snippet_of_text_without_spaces_never_halves_a_character(self, around: str) -> None:
        """Cut at a code point, a spaceless text ended on half a flag or a dangling joiner, or
        began with a lone accent: each side is cut between whole characters, as a reader sees them."""
        for pad in range(len(around)):
            text = "x" * pad + around * 90 + "Kayani" + around * 90
            start = pad + 90 * len(around)
            found = snippet(text, start, start + 6)
            assert "Kayani" in found
            inner = found.strip("…").removeprefix("x" * pad)
            head, tail = inner.split("Kayani")
            assert tail == around * (len(tail) // len(around)), (pad, tail[-4:])
            assert head == around * (len(head) // len(around)) or not head.startswith(around[1:2]), (pad, head[:4])

    def test_snippet_is_about_160_characters(self) -> None:
        """A snippet from a long text stays within 160 characters plus its two ellipses."""
        found = snippet(LONG * 5, 2000, 2007)
        assert 140 <= len(found) <= 162


PROBLEM_CASES = [
    pytest.param("ISPR", None, id="word"),
    pytest.param("Inter-Services Public Relations", None, id="phrase"),
    pytest.param("/gen(eral)?\\s+munir/", None, id="regex"),
    pytest.param("", "empty", id="empty"),
    pytest.param("   ", "empty", id="blank"),
    pytest.param("---", "no letter or digit", id="only-separators"),
    pytest.param("/[/", "not a valid regular expression", id="bad-regex"),
    pytest.param("//", "empty regular expression", id="empty-regex"),
    pytest.param("/a*/", "matches the empty string", id="regex-matching-nothing"),
    pytest.param("/ispr", "does not end with one", id="unclosed-regex"),
    pytest.param("/a{10000000000}/", "not a regular expression this matcher can run", id="regex-too-many-repeats"),
    pytest.param("/" + "(" * 1200 + "a" + ")" * 1200 + "/", "not a regular expression this matcher can run",
                 id="regex-nested-too-deep"),
    pytest.param("/[[:alpha:]]/", "POSIX classes", id="regex-posix-class"),
    # What is checked is what the matcher compiles: the pattern with its separators spaced.
    pytest.param(r"/\N{HYPHEN-MINUS}/", None, id="regex-named-character-with-a-hyphen"),
    pytest.param("/(?a-i:isaf)/", None, id="regex-flags-turned-off"),
    pytest.param("/(?P<a_b>x)(?(a_b)y)/", None, id="regex-conditional-on-a-name-with-an-underscore"),
]


class TestTermProblem:
    @pytest.mark.parametrize(("term", "problem"), PROBLEM_CASES)
    def test_term_problem(self, term: str, problem: str | None) -> None:
        """term_problem accepts usable terms and names what is wrong with the others."""
        found = term_problem(term)
        if problem is None:
            assert found is None
        else:
            assert found is not None and problem in found

    @pytest.mark.parametrize(("term", "problem"), [c for c in PROBLEM_CASES if c.values[1] is None])
    def test_an_accepted_term_compiles_in_the_matcher(self, term: str, problem: None) -> None:
        """Whatever validation accepts, the matcher builds (a reload must not fail half-applied)."""
        Matcher([WatchRule(name="w", keywords=(term,))]).match(source_id="s", title="x", body="isaf")


class TestNormalise:
    @pytest.mark.parametrize(
        ("text", "fold", "expected"),
        [
            pytest.param("Inter-Services  Public_Relations", False, "inter services public relations", id="separators"),
            pytest.param("Straße ﬁnal", False, "strasse final", id="nfkc-casefold"),
            pytest.param("Señor", False, "señor", id="diacritics-kept"),
            pytest.param("Señor Łódź", True, "senor lodz", id="diacritics-folded"),
            pytest.param("Йошкар", True, "йошкар", id="cyrillic-letters-kept"),
            pytest.param("كيهة", False, "کیہہ", id="arabic-variants"),
            pytest.param("Kayani’s", False, "kayani's", id="apostrophe"),
            pytest.param("a\u200c\u200fb \u200b c", False, "ab c", id="invisible-characters"),
        ],
    )
    def test_normal_form(self, text: str, fold: bool, expected: str) -> None:
        """normalise gives the documented normal form."""
        assert normalise(text, fold=fold).text == expected


# The property tests below hold the automaton to a slow, obviously correct reference.
# Characters that stress the normal form: case pairs, expansions (ß, ﬁ, İ), decomposed and
# precomposed accents, Urdu/Arabic variants and harakat, digits of other scripts, every kind
# of separator, dropped invisibles, CJK, Hangul jamo that compose, astral characters.
ALPHABET = (
    list("abABsSien1۱٢ßﬁİéÉñłæⅫ½Ａ\u0301\u0303")
    + list(" -_\n—\u00a0\u200b'’.(\u200c\u00ad\u200f")
    + list("کكیيئہهةاأآ\u0653\u064e\u0640")
    + list("東京가\u1100\u1161\u11a8😀𠀋")
    + ["e\u0301", "  ", "فوج"]
)
CONTINUOUS = {"CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR"}

pieces = st.lists(st.sampled_from(ALPHABET), max_size=30).map("".join)


def reference_form(text: str, fold: bool) -> tuple[str, list[tuple[int, int]]]:
    """The normal form built one cluster at a time, with each character's original span.

    A cluster is a character plus whatever follows that NFC would join to it; each cluster
    is normalised alone by the documented recipe, then space runs merge into one space.
    """
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = start + 1
        while end < len(text) and joins(text[start:end], text[end]):
            end += 1
        for char in textnorm._normal_cluster(text[start:end], fold):
            if char == " " and chars and chars[-1] == " ":
                spans[-1] = (spans[-1][0], end)
            else:
                chars.append(char)
                spans.append((start, end))
        start = end
    return "".join(chars), spans


def joins(cluster: str, char: str) -> bool:
    """Whether ``char`` is a combining mark, or NFC would change it next to ``cluster``."""
    nfc = unicodedata.normalize
    return bool(unicodedata.combining(char)) or nfc("NFC", cluster + char) != nfc("NFC", cluster) + nfc("NFC", char)


def reference_word_edge(text: str, index: int) -> bool:
    """A word boundary before ``text[index]``, by Unicode categories and script names."""
    if index in (0, len(text)):
        return True
    pair = text[index - 1 : index + 1]
    if not all(unicodedata.category(c)[0] in "LMN" for c in pair):
        return True
    return any(unicodedata.name(c, "").split(" ")[0] in CONTINUOUS for c in pair)


def reference_hits(terms: list[str], text: str) -> set[tuple[str, int, int]]:
    """Every (term, start, end) by trying each term at each position of the normal form."""
    found = set()
    for term in dict.fromkeys(terms):
        kept = reference_form(term, False)[0].strip(" ")
        folded = reference_form(term, True)[0].strip(" ")
        key, fold = (folded, True) if kept == folded else (kept, False)
        normal, spans = reference_form(text, fold)
        for start in range(len(normal) - len(key) + 1):
            end = start + len(key)
            if normal[start:end] != key:
                continue
            if unicodedata.category(key[0])[0] in "LMN" and not reference_word_edge(normal, start):
                continue
            if unicodedata.category(key[-1])[0] in "LMN" and not reference_word_edge(normal, end):
                continue
            found.add((term, spans[start][0], spans[end - 1][1]))
    return found


def matcher_hits(terms: list[str], text: str) -> set[tuple[str, int, int]]:
    matches = Matcher([WatchRule(name="w", keywords=tuple(terms))]).match(source_id="s", title="", body=text)
    return {(h.term, h.start, h.end) for m in matches for h in m.hits}


class TestAgainstReference:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=pieces, terms=st.lists(pieces, min_size=1, max_size=4), data=st.data())
    def test_automaton_agrees_with_reference(self, text: str, terms: list[str], data: st.DataObject) -> None:
        """The automaton matcher finds exactly the hits of the naive reference, on random texts and terms."""
        if text:  # a term cut from the text itself, so that hits are common
            start = data.draw(st.integers(0, len(text) - 1))
            terms.append(text[start : data.draw(st.integers(start + 1, len(text)))])
        terms = [t for t in terms if term_problem(t) is None]
        assume(terms)
        assert matcher_hits(terms, text) == reference_hits(terms, text)

    @settings(max_examples=300, deadline=None)
    @given(text=pieces, fold=st.booleans())
    def test_normal_form_agrees_with_reference(self, text: str, fold: bool) -> None:
        """The fast normal form equals the one built one cluster at a time."""
        assert normalise(text, fold=fold).text == reference_form(text, fold)[0]

    @settings(max_examples=200, deadline=None)
    @given(text=pieces, data=st.data())
    def test_regex_spans_agree_with_reference(self, text: str, data: st.DataObject) -> None:
        """A regex cut from the normal form hits the original spans the reference maps it to."""
        normal, spans = reference_form(text, False)
        assume(normal.strip())
        start = data.draw(st.integers(0, len(normal) - 1))
        pattern = re.escape(normal[start : data.draw(st.integers(start + 1, len(normal)))])
        term = f"/{pattern}/"
        assume(term_problem(term) is None)
        expected = {
            (term, spans[m.start()][0], spans[m.end() - 1][1])
            for m in re.finditer(textnorm.normal_pattern(pattern), normal, re.IGNORECASE)
            if m.end() > m.start()
        }
        assert matcher_hits([term], text) == expected
