"""Watch lists -> one compiled matcher -> matches with their hits and snippets (a pure stage).

How a term matches (DESIGN.md section 2):

- A plain term is a word or phrase compared with the title and body in the normal form of
  ``monitor.textnorm``: case-insensitive, NFKC, Arabic-script letter variants unified,
  harakat and invisible characters ignored, and any run of spaces, hyphens, dashes or
  underscores equal to any other ("Inter-Services Public Relations" matches
  "Inter Services  Public-Relations").
- It matches whole words only: a word boundary must lie at each end (letters, digits and
  marks make words). "ISAFE" and "CRISPR" do not match ISAF and ISPR; "Kayani's" and
  "Kayani’s" match Kayani, since an apostrophe ends a word. Letters of scripts written
  without spaces (Chinese, Japanese, Thai ...) need no boundary.
- A term without diacritics also matches text with them ("Senor" matches "Señor"); a term
  with diacritics needs them ("Señor" does not match "Senor").
- A term written ``/like this/`` is a Python regular expression, searched with IGNORECASE
  in the normal form with diacritics kept. So it sees case-folded text ("ß" reads "ss"),
  one space for every run of separators, ``'`` for every apostrophe, Urdu letters for
  their Arabic variants (the pattern's own are mapped too), ASCII digits, no harakat or
  invisible characters. It gets no implicit word boundaries: write ``\\b`` where wanted.

A term string may also hold several spellings, aliases, a field scope or a proximity
(``monitor.watchlang`` reads them); each spelling is one of the above, and hits name the
spelling that was found. Which hits make a rule fire is ``monitor.rulelogic``.

Every hit is reported with offsets into the original title or body string, and each
matched term gets a snippet with its hits marked (``monitor.models.Snippet``).
"""

from __future__ import annotations

import re
import warnings
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import ahocorasick

from monitor.models import Hit, Match, Snippet
from monitor.rulelogic import Rule as _Rule
from monitor.rulelogic import compile_rule as _compile_rule
from monitor.textnorm import (
    GLUES,
    Normalised,
    boundary_at,
    grapheme_cut,
    is_word_char,
    normal_pattern,
    normal_term,
    normalise,
)
from monitor.watchlang import Condition, TermError, parse_term, regex_source

SNIPPET_CHARS = 160
_FIELDS = ("title", "body")
_RUNS = re.compile(r"(\s+)|\S+")
_NON_SPACE = re.compile(r"\S")


@dataclass(frozen=True, kw_only=True)
class WatchRule:
    """One watch list as the matcher sees it.

    It fires when any keyword, all require conditions and no exclude condition hold; with
    no keywords, when all require conditions hold; and only if some term was found (a
    match needs a snippet). A condition is a term string of ``monitor.watchlang`` or a
    nested ``Group``/``Scoped``. ``sources`` limits the rule to those source ids (None:
    every source).
    """

    name: str
    keywords: tuple[Condition, ...]
    require: tuple[Condition, ...] = ()
    exclude: tuple[Condition, ...] = ()
    sources: frozenset[str] | None = None


def term_problem(term: str, aliases: Mapping[str, tuple[str, ...]] | None = None) -> str | None:
    """None if the term is usable, else a sentence saying what is wrong (e.g. bad /regex/), for config errors.

    With ``aliases`` None, ``@name`` references are not checked (the config checks them
    once its aliases are loaded)."""
    try:
        parsed = parse_term(term, aliases)
    except TermError as exc:
        return str(exc)
    for atom in (*parsed.left, *parsed.right):
        if aliases is None and atom.startswith("@"):
            continue
        if aliases is None and len(atom) >= 2 and atom.startswith('"') and atom.endswith('"'):
            atom = atom[1:-1]
        problem = atom_problem(atom)
        if problem is not None:
            return problem
    return None


def atom_problem(atom: str) -> str | None:
    """None if ``atom`` (one spelling: a phrase or a /regex/) can be matched, else why not."""
    stripped = atom.strip()
    if not stripped:
        return "the term is empty (write a word, a phrase or a /regular expression/)"
    pattern = regex_source(stripped)
    if pattern is not None:
        if not pattern:
            return "'//' is an empty regular expression (write a pattern between the slashes)"
        try:
            with warnings.catch_warnings():
                # "Possible nested set": [[:alpha:]] is a POSIX class to its writer, a set of
                # ':', 'a', 'l', ... to Python, and a raw warning on the terminal.
                warnings.simplefilter("error", FutureWarning)
                re.compile(pattern, re.IGNORECASE)  # positions in errors are the writer's
                # Then as the matcher compiles it: a fault of the spacing must reject the
                # term, not stop the daemon at start or leave a reload half applied.
                compiled = re.compile(normal_pattern(pattern), re.IGNORECASE)
        except re.error as exc:
            where = f" at position {exc.pos + 1}" if exc.pos is not None else ""
            return f"'{stripped}' is not a valid regular expression: {exc.msg}{where}"
        except FutureWarning as warning:
            return (f"'{stripped}' is ambiguous as a regular expression: {warning} "
                    "(POSIX classes such as [[:alpha:]] are not supported)")
        except (OverflowError, RecursionError) as exc:  # a{10000000000}, a thousand nested groups
            return f"'{stripped}' is not a regular expression this matcher can run: {exc}"
        if compiled.search("") is not None:
            return f"'{stripped}' matches the empty string, so it would fire on every item (use + rather than * or ?)"
        return None
    if stripped.startswith("/"):
        return f"'{stripped}' starts with '/' but does not end with one (write /pattern/ for a regular expression)"
    if not any(map(is_word_char, normal_term(stripped, fold=False))):
        return f"'{stripped}' has no letter or digit to match (write a word or a phrase)"
    return None


class Matcher:
    """Every watch list compiled once; ``match`` is then called for each new item.

    Plain spellings of all lists share one Aho-Corasick automaton, so the cost of a scan
    hardly grows with the number of terms; regular expressions run one by one. The rules'
    logic (groups, fields, proximity) is then judged only for rules with a hit.
    """

    def __init__(self, rules: Sequence[WatchRule], *, aliases: Mapping[str, tuple[str, ...]] | None = None) -> None:
        """Raises ValueError for a rule that could never fire or holds an unusable term
        (the config layer reports those first, with ``term_problem``). ``aliases`` maps
        lower-cased alias names to their spellings, for ``@name`` in terms."""
        self._rules = tuple(rules)
        known = aliases if aliases is not None else {}
        self._compiled: list[_Rule] = []
        for rule in self._rules:
            if not rule.keywords and not rule.require:
                raise ValueError(f"watch list '{rule.name}' has neither keywords nor require terms")
            try:
                compiled = _compile_rule(rule, known)
            except TermError as exc:
                raise ValueError(f"watch list '{rule.name}': {exc}") from None
            for atom in compiled.atoms:
                problem = atom_problem(atom)
                if problem is not None:
                    raise ValueError(f"watch list '{rule.name}': {problem}")
            self._compiled.append(compiled)
        self._rules_of: dict[str, list[int]] = {}
        atoms: dict[str, None] = {}
        for i, compiled in enumerate(self._compiled):
            for atom in compiled.positive:
                self._rules_of.setdefault(atom, []).append(i)
            atoms.update(dict.fromkeys(compiled.atoms))
        self._regexes: list[tuple[str, re.Pattern[str]]] = []
        phrases: dict[str, list[tuple[str, str | None]]] = {}
        for atom in atoms:
            pattern = regex_source(atom.strip())
            if pattern is not None:
                self._regexes.append((atom, re.compile(normal_pattern(pattern), re.IGNORECASE)))
                continue
            kept = normal_term(atom, fold=False)
            folded = normal_term(atom, fold=True)
            # A term that folding changes has diacritics, and they must match: it is found
            # in the folded text like the others, then checked without folding.
            phrases.setdefault(folded, []).append((atom, None if kept == folded else kept))
        self._phrases = _PhraseIndex(phrases) if phrases else None

    def match(self, *, source_id: str, title: str, body: str) -> list[Match]:
        """The watch lists that fire on this item, in rule order."""
        if not any(r.sources is None or source_id in r.sources for r in self._rules):
            return []
        texts = {"title": title, "body": body}
        hits: dict[str, list[Hit]] = {}
        for field, text in texts.items():
            for hit in self._hits(field, text):
                hits.setdefault(hit.term, []).append(hit)
        # Only rules with a keyword or require term among the hits can fire: with thousands
        # of rules, judging every one would cost more than the scan.
        candidates = sorted({i for term in hits for i in self._rules_of.get(term, ())})
        matches = []
        for i in candidates:
            rule = self._rules[i]
            if rule.sources is None or source_id in rule.sources:
                found = _judge(rule, self._compiled[i], hits, texts)
                if found is not None:
                    matches.append(found)
        return matches

    def _hits(self, field: str, text: str) -> Iterator[Hit]:
        if self._phrases is not None:
            folded = normalise(text, fold=True)
            for term, start, end in self._phrases.scan(text, folded):
                yield Hit(term=term, field=field, start=start, end=end)
        if self._regexes:
            kept = normalise(text, fold=False)
            for term, regex in self._regexes:
                for found in regex.finditer(kept.text):
                    if found.end() > found.start():
                        first, last = kept.original_span(found.start(), found.end())
                        yield Hit(term=term, field=field, start=first, end=last)


class _PhraseIndex:
    """All plain terms in one Aho-Corasick automaton over their folded normal forms, with
    the word-boundary test (and, for terms with diacritics, the unfolded comparison)
    applied to each occurrence it reports."""

    def __init__(self, phrases: dict[str, list[tuple[str, str | None]]]) -> None:
        self._automaton = ahocorasick.Automaton()
        for key, terms in phrases.items():
            # Only an end that could glue to a neighbour needs a boundary there: not ".NET"'s
            # dot, nor a Chinese character.
            self._automaton.add_word(key, (len(key), tuple(terms), GLUES[key[0]], GLUES[key[-1]]))
        self._automaton.make_automaton()

    def scan(self, original: str, folded: Normalised) -> Iterator[tuple[str, int, int]]:
        """Each (term, start, end in ``original``) for every whole-word occurrence."""
        text = folded.text
        size = len(text)
        for last, (length, terms, check_start, check_end) in self._automaton.iter(text):
            # Inlined boundary_at: most candidates are inside longer words, and this runs for each.
            start, end = last + 1 - length, last + 1
            if (check_start and start and GLUES[text[start - 1]]) or (check_end and end < size and GLUES[text[end]]):
                continue
            first, after = folded.original_span(start, end)
            for term, kept in terms:
                if kept is None or _holds_word(normalise(original[first:after], fold=False).text, kept):
                    yield term, first, after


def _holds_word(text: str, key: str) -> bool:
    """Whether ``key`` occurs in ``text`` with a word boundary at each end that is a word character."""
    start = text.find(key)
    while start >= 0:
        end = start + len(key)
        if (not GLUES[key[0]] or boundary_at(text, start)) and (not GLUES[key[-1]] or boundary_at(text, end)):
            return True
        start = text.find(key, start + 1)
    return False


def _judge(rule: WatchRule, compiled: _Rule, hits: dict[str, list[Hit]], texts: dict[str, str]) -> Match | None:
    """The rule's Match if it fires on these hits, else None."""
    found = compiled.test(hits, texts)
    if not found:
        return None
    rank = {atom: i for i, atom in enumerate(compiled.positive)}
    ordered = sorted(set(found), key=lambda h: (_FIELDS.index(h.field), h.start, h.end, rank[h.term]))
    snippets = _snippets(ordered, texts)
    return Match(
        watchlist=rule.name,
        terms=tuple(dict.fromkeys(hit.term for hit in ordered)),
        snippet=snippets[0].text,
        hits=tuple(ordered),
        snippets=snippets,
    )


def _snippets(ordered: Sequence[Hit], texts: dict[str, str]) -> tuple[Snippet, ...]:
    """One snippet per distinct term, around its first hit in the main text (in the title
    only if the text has none: the alert shows the title already, and a headline quoted
    back is no context), unless that hit already lies inside an earlier snippet: a reader
    should see each term once, not the same sentence twice. Every hit inside a snippet is
    marked in it."""
    cuts: list[tuple[Hit, _Cut]] = []
    seen: set[str] = set()
    for hit in sorted(ordered, key=lambda h: h.field != "body"):  # stable: text order within each
        if hit.term in seen:
            continue
        seen.add(hit.term)
        if any(earlier.field == hit.field and cut.covers(hit.start, hit.end) for earlier, cut in cuts):
            continue
        cuts.append((hit, _cut(texts[hit.field], hit.start, hit.end, SNIPPET_CHARS)))
    return tuple(
        Snippet(term=hit.term, field=hit.field, text=cut.text,
                marks=_merged(cut.mark(h.start, h.end) for h in ordered if h.field == hit.field))
        for hit, cut in cuts
    )


def _merged(spans: Iterator[tuple[int, int] | None]) -> tuple[tuple[int, int], ...]:
    """The spans sorted, with overlapping ones (a phrase and a word inside it) made one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s is not None):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(frozen=True)
class _Cut:
    """A snippet's text with, for each of its characters after the leading '…' (``offset``
    of them), the offset in the original text it came from: whitespace runs collapse to one
    space, so snippet and original offsets differ."""

    text: str
    origin: tuple[int, ...]
    offset: int

    def covers(self, start: int, end: int) -> bool:
        """Whether original ``text[start:end]`` lies wholly inside the snippet."""
        return bool(self.origin) and self.origin[0] <= start and end <= self.origin[-1] + 1

    def mark(self, start: int, end: int) -> tuple[int, int] | None:
        """Where original ``text[start:end]`` lies in the snippet (clipped to it), or None if outside."""
        first = bisect_left(self.origin, start)
        last = bisect_left(self.origin, end)
        if first >= last:
            return None
        return first + self.offset, last + self.offset


def snippet(text: str, start: int, end: int, *, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around ``text[start:end]``: whitespace collapsed,
    cut at spaces (so no word is cut in half), with '…' where text was left out."""
    return _cut(text, start, end, width).text


def _cut(text: str, start: int, end: int, width: int) -> _Cut:
    hit, hit_origin = _collapse(text, start, end)
    if len(hit) >= width:
        kept = hit[:grapheme_cut(hit, width) or width].rstrip()
        lead = "…" if _NON_SPACE.search(text, 0, start) else ""
        return _Cut(text=lead + kept + "…", origin=tuple(hit_origin[: len(kept)]), offset=len(lead))
    room = width - len(hit)
    window = 2 * width  # enough original text for either side, unless it is mostly spaces
    low, high = max(0, start - window), min(len(text), end + window)
    before, before_origin = _collapse(text, low, start)
    after, after_origin = _collapse(text, end, high)
    before = before.lstrip()
    after = after.rstrip()
    left_room = max(room // 2, room - len(after))
    right_room = max(room - left_room, room - len(before))
    left, left_cut = _keep_end(before, left_room)
    right, right_cut = _keep_start(after, right_room)
    left_cut = left_cut or _NON_SPACE.search(text, 0, low) is not None
    right_cut = right_cut or _NON_SPACE.search(text, high) is not None
    lead = "…" if left_cut else ""
    origin = before_origin[len(before_origin) - len(left):] + hit_origin + after_origin[: len(right)]
    return _Cut(text=lead + left + hit + right + ("…" if right_cut else ""), origin=tuple(origin), offset=len(lead))


def _collapse(text: str, start: int, end: int) -> tuple[str, list[int]]:
    """``text[start:end]`` with each whitespace run as one space, and the original offset
    of each character of the result."""
    parts: list[str] = []
    origin: list[int] = []
    for found in _RUNS.finditer(text, start, end):
        if found.group(1) is not None:
            parts.append(" ")
            origin.append(found.start())
        else:
            parts.append(found.group())
            origin.extend(range(found.start(), found.end()))
    return "".join(parts), origin


def _keep_end(text: str, room: int) -> tuple[str, bool]:
    """The last ``room`` characters at most, starting at a word; and whether any were cut."""
    if len(text) <= room:
        return text, False
    kept = text[grapheme_cut(text, len(text) - room, forward=True):] if room else ""
    if kept and text[len(text) - len(kept) - 1] != " " and " " in kept:
        kept = kept[kept.index(" ") :]  # drop the partial word; a text without spaces (CJK) keeps it
    return kept.lstrip(), True


def _keep_start(text: str, room: int) -> tuple[str, bool]:
    """The first ``room`` characters at most, ending at a word; and whether any were cut."""
    if len(text) <= room:
        return text, False
    kept = text[:grapheme_cut(text, room)]
    if kept and text[len(kept)] != " " and " " in kept:
        kept = kept[: kept.rindex(" ")]
    return kept.rstrip(), True
