"""The normal form that watch-list terms and texts are compared in, mapped back to the original.

``normalise`` applies, in this order, to each cluster (a character and the combining marks
after it):

1. apostrophe look-alikes (’ ‘ ʼ ´ `) become ``'``, and Turkish ``İ`` becomes ``I``;
2. NFKC, case folding, NFKC again (the NFKC_Casefold recipe: ``ﬁ`` -> ``fi``, ``ß`` -> ``ss``);
3. Arabic-script letter variants become the Urdu letter (ك -> ک; ي ى ئ -> ی; ه ة ۃ ۂ -> ہ;
   أ إ ٱ -> ا; ؤ -> و) and harakat, Quranic marks and tatweel are dropped, so is every
   invisible format character (ZWNJ, soft hyphen, bidi marks, variation selectors);
4. every decimal digit becomes its ASCII digit (۲۰۲۳ -> 2023);
5. spaces, line breaks, hyphens, dashes, underscores and the zero-width space become a space;
6. with ``fold=True`` only: Latin and Greek diacritics are dropped (é -> e, ł -> l, æ -> ae).

Then every run of spaces becomes one space. The steps change lengths, so the result keeps
a piecewise map per pass and ``Normalised.original_span`` turns a span of the normal form
into the span of the original string it came from.

Speed: one ``str.translate`` does steps 1-6 for every character that maps to exactly one
character on its own; only the rare clusters that do not (ß, ﬁ, decomposed accents, Hangul
jamo) take the per-cluster path. Dropping characters and collapsing space runs are two
regex passes.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache, lru_cache

# What a dropped character becomes until its own pass removes it (U+00AD is itself dropped).
_DROPPED = "\u00ad"
# Placeholder from the translate table: this character needs the per-cluster path.
# (U+FFFF is a noncharacter; one in the input simply takes the slow path.)
_COMPLEX = "\uffff"

_APOSTROPHES = dict.fromkeys(map(ord, "\u2018\u2019\u201b\u02bc\u00b4\u0060\u2032"), "'")
# Turkish İ case-folds to i with a combining dot, a diacritic that a term spelled İstanbul
# then required of the text: it is the I it is written over.
_DOTTED_I = {ord("\u0130"): "I"}
_BEFORE_FOLDING = {**_APOSTROPHES, **_DOTTED_I}

_ARABIC_VARIANTS = {
    "\u0643": "\u06a9",  # ARABIC KAF -> KEHEH
    "\u064a": "\u06cc",  # ARABIC YEH -> FARSI YEH
    "\u0649": "\u06cc",  # ALEF MAKSURA -> FARSI YEH
    "\u0626": "\u06cc",  # YEH WITH HAMZA: the hamza goes, as a combining one does
    "\u0647": "\u06c1",  # ARABIC HEH -> HEH GOAL
    "\u0629": "\u06c1",  # TEH MARBUTA
    "\u06c3": "\u06c1",  # TEH MARBUTA GOAL
    "\u06c2": "\u06c1",  # HEH GOAL WITH HAMZA
    "\u06c0": "\u06c1",  # HEH WITH YEH ABOVE
    "\u0623": "\u0627",  # ALEF WITH HAMZA ABOVE
    "\u0625": "\u0627",  # ALEF WITH HAMZA BELOW
    "\u0671": "\u0627",  # ALEF WASLA
    "\u0624": "\u0648",  # WAW WITH HAMZA
}
# Alef with madda (آ) stays: Urdu tells آب (water) from اب (now) by it.

# Letters with no canonical decomposition that folding still maps to plain Latin.
_FOLD_EXTRA = {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ŧ": "t", "æ": "ae", "œ": "oe"}

# Arabic harakat and Quranic marks, tatweel, variation selectors: dropped like format characters.
_DROPPED_RANGES = (
    ("\u0610", "\u061a"),
    ("\u064b", "\u065f"),
    ("\u0640", "\u0640"),
    ("\u0670", "\u0670"),
    ("\u06d6", "\u06ed"),
    ("\u08d3", "\u08ff"),
    ("\ufe00", "\ufe0f"),
    ("\U000e0100", "\U000e01ef"),
)

_PATTERN_TABLE: dict[int, str | None] = {
    **_APOSTROPHES,
    **{ord(variant): letter for variant, letter in _ARABIC_VARIANTS.items()},
    **{cp: None for low, high in _DROPPED_RANGES for cp in range(ord(low), ord(high) + 1)},
}

# Combining-mark blocks whose marks folding drops (after a Latin or Greek letter only:
# in other scripts marks are letters' vowels, or distinct letters like Cyrillic й).
_FOLD_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_FOLD_BASES = re.compile("[a-z\u00c0-\u02af\u0370-\u03ff\u1e00-\u1eff\u1f00-\u1fff]")

# Scripts written without spaces between words: their letters need no word boundary.
_SCRIPTIO_CONTINUA = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff\u2e80-\u2fdf\u3005-\u3007"
    "\u3021-\u3029\u3038-\u303b\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\ua9e0-\ua9ff\uaa60-\uaa7f\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff]"
)

# Both start with a literal, which lets ``re`` skip ahead fast.
_DROPPED_RUN = re.compile(f"{_DROPPED}+")
_SPACE_RUN = re.compile("  +")
_COMPLEX_RUN = re.compile(f"{_COMPLEX}+")


def is_word_char(char: str) -> bool:
    """Letters, digits and combining marks make words; everything else separates them."""
    return char.isalnum() or unicodedata.category(char)[0] == "M"


class _WordGlue(dict[str, bool]):
    """char -> whether it joins a word character next to it into one word: a word character
    outside the scripts written without spaces (Chinese, Japanese, Thai ...), where any
    position may end a word. Filled on demand: the scan looks up every candidate's edges."""

    def __missing__(self, char: str) -> bool:
        value = is_word_char(char) and not _SCRIPTIO_CONTINUA.match(char)
        self[char] = value
        return value


GLUES = _WordGlue()


def boundary_at(text: str, index: int) -> bool:
    """Whether a word boundary lies before ``text[index]`` (the ends of the text are boundaries)."""
    return index <= 0 or index >= len(text) or not (GLUES[text[index - 1]] and GLUES[text[index]])


@dataclass(frozen=True, slots=True)
class _SpanMap:
    """Piecewise map from positions of a derived string to the source string.

    Segment ``k`` covers target positions from ``starts[k]``; a linear segment maps them one
    to one from ``lows[k]``, any other maps each of them to the whole source span
    ``lows[k]:highs[k]`` (a collapsed run, or a cluster that NFKC rewrote).
    """

    starts: list[int]
    lows: list[int]
    highs: list[int]
    linear: list[bool]

    def first(self, index: int) -> int:
        """Source index where target character ``index`` starts."""
        k = bisect_right(self.starts, index) - 1
        return self.lows[k] + (index - self.starts[k]) if self.linear[k] else self.lows[k]

    def last(self, index: int) -> int:
        """Source index just after target character ``index``."""
        k = bisect_right(self.starts, index) - 1
        return self.lows[k] + (index - self.starts[k]) + 1 if self.linear[k] else self.highs[k]


class _MapBuilder:
    """Collects a derived string piece by piece together with its ``_SpanMap``."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.size = 0
        self.map = _SpanMap([], [], [], [])

    def copy(self, piece: str, source_start: int) -> None:
        """Append ``piece``, taken one to one from the source at ``source_start``."""
        if piece:
            self._segment(len(piece), source_start, source_start + len(piece), linear=True)
            self.pieces.append(piece)

    def replace(self, piece: str, source_start: int, source_end: int) -> None:
        """Append ``piece``, every character of which stands for the whole source span."""
        if piece:
            self._segment(len(piece), source_start, source_end, linear=False)
            self.pieces.append(piece)

    def _segment(self, size: int, low: int, high: int, *, linear: bool) -> None:
        self.map.starts.append(self.size)
        self.map.lows.append(low)
        self.map.highs.append(high)
        self.map.linear.append(linear)
        self.size += size


@dataclass(frozen=True, slots=True)
class Normalised:
    """A text in normal form, with the way back to offsets of the original string."""

    text: str
    # Each map takes positions of one pass's output to its input, last pass first.
    _maps: tuple[_SpanMap, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original string that produced ``text[start:end]`` (``end > start``)."""
        for span_map in self._maps:
            start, end = span_map.first(start), span_map.last(end - 1)
        return start, end


def normalise(text: str, *, fold: bool) -> Normalised:
    """``text`` in normal form (see the module docstring); ``fold`` also drops diacritics."""
    maps: list[_SpanMap] = []
    draft = text.translate(_table(fold))
    if _COMPLEX in draft:
        draft = _redo_complex(text, draft, fold, maps)
    if _DROPPED in draft:
        draft = _replace_runs(_DROPPED_RUN, draft, "", maps)
    if "  " in draft:
        draft = _replace_runs(_SPACE_RUN, draft, " ", maps)
    return Normalised(text=draft, _maps=tuple(reversed(maps)))


def normal_term(term: str, *, fold: bool) -> str:
    """A term's normal form: as ``normalise``, without the spaces at either end."""
    return normalise(term, fold=fold).text.strip(" ")


def normal_pattern(pattern: str) -> str:
    """A regular expression with the mappings that cannot break regex syntax applied
    (apostrophes, Arabic-script letter variants, harakat dropped), so that it may be written
    the way the text is: ``/كراچي/`` finds كراچي, which the normal form spells کراچی.
    A literal hyphen or underscore is a space, as in the text: ``/F-16/`` finds "F-16"."""
    return _spaced_separators(pattern.translate(_PATTERN_TABLE))


# Outside a class, the regex syntax in which a "-" or "_" is not a character of the text:
# (?P<group_name>, (?P=group_name), (?(group_name)..., (?a-i:...).
_WRITTEN_AS_IS = re.compile(r"\(\?P[<=][^>)]*[>)]?|\(\?\([^)]*\)?|\(\?[aiLmsux]*-[imsx]*[:)]")
_NAMED_CHARACTER = re.compile(r"\\N\{[^}]*\}")  # \N{LATIN SMALL LETTER A}, in a class or out
# A separator's space, escaped: a bare one is nothing in verbose mode, (?x).
_SPACE = "\\ "


def _spaced_separators(pattern: str) -> str:
    r"""``pattern`` with each literal ``-`` and ``_`` (``\-`` too) made a space outside a
    character class, and a space added to a class that holds one: ``[-_]``, ``[a\-z]``.
    A ``-`` between two members of a class is a range, and stays."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = class_start = 0
    class_gets_space = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            escaped = pattern[i + 1]
            named = _NAMED_CHARACTER.match(pattern, i) if escaped == "N" else None
            if named and _named(named.group()) not in ("-", "_"):
                out.append(named.group())
                i = named.end()
                continue
            end = named.end() if named else i + 2
            if named or escaped in "-_":
                if in_class:
                    class_gets_space = True
                    out.append(pattern[i:end])
                else:
                    out.append(_SPACE)
            else:
                out.append(pattern[i:end])
            i = end
            continue
        if in_class:
            if ch == "]" and i > class_start:
                out.append(" ]" if class_gets_space else "]")
                in_class = 0
            else:
                is_range = ch == "-" and i > class_start and i + 1 < n and pattern[i + 1] != "]"
                if ch == "_" or (ch == "-" and not is_range):
                    class_gets_space = True
                # A literal "-" escaped: "[\w-]" with the space added is "[\w- ]", a bad range.
                out.append("\\-" if ch == "-" and not is_range else ch)
            i += 1
            continue
        written = _WRITTEN_AS_IS.match(pattern, i) if ch == "(" else None
        if written:  # a group's name, inline flags: syntax, not text
            out.append(written.group())
            i = written.end()
            continue
        if ch == "[":
            in_class, class_gets_space = 1, False
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            class_start = i  # a "]" here is a member, not the end
            continue
        out.append(_SPACE if ch in "-_" else ch)
        i += 1
    return "".join(out)


def _named(escape: str) -> str | None:
    """The character ``\\N{NAME}`` stands for, None if the name is unknown (re says so)."""
    try:
        return unicodedata.lookup(escape[3:-1])
    except KeyError:
        return None


def _replace_runs(runs: re.Pattern[str], text: str, replacement: str, maps: list[_SpanMap]) -> str:
    """Replace each match of ``runs`` with ``replacement`` (at most one character), recording
    the map in ``maps``. Written for speed: a news page has thousands of runs."""
    starts, lows, highs, linear = [0], [0], [0], [True]
    shift = 0  # source position minus target position, after the runs so far
    for run in runs.finditer(text):
        low, high = run.span()
        if replacement:
            starts.append(low - shift)
            lows.append(low)
            highs.append(high)
            linear.append(False)
        shift += high - low - len(replacement)
        # An empty segment may share its start with the next; lookups take the later one.
        starts.append(high - shift)
        lows.append(high)
        highs.append(high)
        linear.append(True)
    maps.append(_SpanMap(starts, lows, highs, linear))
    return runs.sub(replacement, text)


def _redo_complex(text: str, draft: str, fold: bool, maps: list[_SpanMap]) -> str:
    """Redo, cluster by cluster, the stretches that the translate table could not map alone."""
    out = _MapBuilder()
    done = 0
    for run in _COMPLEX_RUN.finditer(draft):
        start, end = run.start(), run.end()
        if start > done and _joins(text[start - 1], text[start]):
            start -= 1  # the cluster begins at the base character before the marks
        out.copy(draft[done:start], done)
        cluster_start = start
        for index in range(start + 1, end + 1):
            if index == end or not _joins(text[cluster_start:index], text[index]):
                cluster = text[cluster_start:index]
                out.replace(_normal_cluster(cluster, fold) or _DROPPED, cluster_start, index)
                cluster_start = index
        done = end
    out.copy(draft[done:], done)
    maps.append(out.map)
    return "".join(out.pieces)


def _joins(cluster: str, char: str) -> bool:
    """Whether normalising ``char`` apart from the ``cluster`` before it would differ."""
    if char not in _combiners():
        return False
    if unicodedata.combining(char):
        return True
    nfc = unicodedata.normalize
    return nfc("NFC", cluster + char) != nfc("NFC", cluster) + nfc("NFC", char)


@lru_cache(maxsize=65536)
def _normal_cluster(cluster: str, fold: bool) -> str:
    """Steps 1-6 of the module docstring for one cluster; the definition of the normal form."""
    # Mapped before NFKC (which makes U+00B4 a space and a mark); İ after it too, as NFKC
    # composes a decomposed I and dot into one, and the dot's i after casefolding, which is
    # how İ lowers: "İçişleri".lower().
    text = unicodedata.normalize("NFKC", cluster.translate(_BEFORE_FOLDING)).translate(_DOTTED_I)
    text = unicodedata.normalize("NFKC", text.casefold()).replace("i\u0307", "i")
    text = "".join(map(_normal_char, text))
    if fold:
        text = _fold(text)
    return text


def _normal_char(char: str) -> str:
    if char in _ARABIC_VARIANTS:
        return _ARABIC_VARIANTS[char]
    if _is_dropped(char):
        return ""
    if char.isdecimal():
        return str(unicodedata.decimal(char))
    if _is_separator(char):
        return " "
    return char


def _is_dropped(char: str) -> bool:
    if any(low <= char <= high for low, high in _DROPPED_RANGES):
        return True
    return unicodedata.category(char) == "Cf" and char != "\u200b"


def _is_separator(char: str) -> bool:
    return char.isspace() or char == "\u200b" or unicodedata.category(char) in {"Pd", "Pc", "Cc"}


def _fold(text: str) -> str:
    kept = []
    folds = False
    for char in unicodedata.normalize("NFD", text):
        if _FOLD_MARKS.match(char):
            if folds:
                continue
        else:
            folds = bool(_FOLD_BASES.match(char))
        kept.append(_FOLD_EXTRA.get(char, char))
    return unicodedata.normalize("NFC", "".join(kept))


@cache
def _combiners() -> frozenset[str]:
    """Characters that may join the character before them under NFKC: marks, and the
    few starters that compose with a preceding letter (Hangul vowels and finals, some
    Indic vowel signs). Computed once: about 50 ms."""
    found = {chr(cp) for cp in range(0x1161, 0x1176)} | {chr(cp) for cp in range(0x11A8, 0x11C3)}
    for cp in range(0x20000):
        char = chr(cp)
        if unicodedata.combining(char):
            found.add(char)
        parts = unicodedata.decomposition(char).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            found.add(chr(int(parts[1], 16)))
    return frozenset(found)


class _Table(dict[int, str]):
    """``str.translate`` table filled on demand: a character's normal form when that is a
    single character (or ``_DROPPED``), else ``_COMPLEX``."""

    def __init__(self, fold: bool) -> None:
        super().__init__()
        self.fold = fold

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        if char in _combiners():
            value = _COMPLEX
        else:
            normal = _normal_cluster(char, self.fold)
            value = normal if len(normal) == 1 else _DROPPED if not normal else _COMPLEX
        self[codepoint] = value
        return value


@cache
def _table(fold: bool) -> _Table:
    return _Table(fold)


def grapheme_cut(text: str, at: int, *, forward: bool = False) -> int:
    """The index nearest ``at`` (at or before it; at or after it if ``forward``) where
    ``text`` can be cut without splitting a base character from its combining marks, a
    joined emoji (ZWJ, variation selectors, skin tones) or a flag's two letters: a snippet
    or a title cut there shows no half-drawn character."""
    cut = max(0, min(at, len(text)))
    step = 1 if forward else -1
    while 0 < cut < len(text) and _joined(text, cut):
        cut += step
    return cut


_ZWJ = "\u200d"


def _joined(text: str, cut: int) -> bool:
    """Whether ``text[cut - 1]`` and ``text[cut]`` belong to one grapheme."""
    before, after = text[cut - 1], text[cut]
    if after == _ZWJ or before == _ZWJ:
        return True
    if unicodedata.combining(after) or unicodedata.category(after) in ("Mn", "Me", "Mc"):
        return True
    if unicodedata.combining(before) == 9 and after.isalpha():
        return True  # a virama joins the consonants on either side into one conjunct: क्ष
    if "\ufe00" <= after <= "\ufe0f" or "\U0001f3fb" <= after <= "\U0001f3ff":
        return True  # variation selectors and skin tones belong to the character before
    if _is_flag_letter(after) and _is_flag_letter(before):
        run = 0  # regional indicators pair up from the start of their run: 🇵🇰🇺🇸 is two flags
        while cut - run > 0 and _is_flag_letter(text[cut - run - 1]):
            run += 1
        return run % 2 == 1
    return "\udc00" <= after <= "\udfff"


def _is_flag_letter(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"
