"""Canonical URLs: the identity of an item (DESIGN.md section 4)."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that track the reader, not the document: two URLs differing only in these
# are the same item.
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "_hs")
_TRACKING_NAMES = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "twclid",
    "mkt_tok", "_ga", "_gl", "ref_src", "ocid", "cmpid", "smid", "s_cid",
    "wt.mc_id", "spm", "vero_id", "oly_enc_id", "oly_anon_id", "rb_clickid",
})


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def url_key(url: str) -> str:
    """Where ``url`` points, as a digest of ``where_it_points``: what tells a source's new URL
    from its old one when a variable holds all or part of it, beside the url as the config
    writes it. A digest, as the database keeps it: a secret in a path
    (``https://host/${TOKEN}/feed``) is stored nowhere."""
    return key_digest(where_it_points(url))


def where_it_points(url: str) -> str:
    """``url``'s canonical URL without the query and credentials (where a rotating token
    lives). A source's url has a valid port (the config checks), so this raises for none."""
    parts = urlsplit(canonical_url(url))
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def key_digest(where: str) -> str:
    return hashlib.sha256(where.encode("utf-8")).hexdigest()


def canonical_url(url: str) -> str:
    """Normalise ``url`` so that trivially different spellings of one page compare equal.

    Scheme and host are lower-cased, a default port and the fragment dropped, tracking
    parameters removed; the path and the order of the remaining parameters are kept
    (servers may treat them as significant).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if host and ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = parts.path or "/"
    query = parts.query
    if query:
        # Re-encoded when a tracking parameter goes (``q=a%20b`` becomes ``q=a+b``): the
        # stored items' identity, which a change of spelling would turn into new items.
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not is_tracking_param(k)]
        if kept != pairs:
            query = urlencode(kept, doseq=True)
    return urlunsplit((scheme, netloc, path, query, ""))
