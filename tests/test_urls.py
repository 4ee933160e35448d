"""URL canonicalisation and link resolution, with examples and hypothesis properties."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from models.urls import TRACKING_PARAMETERS, absolute_url, canonicalize_url, without_credentials


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.ORG/News/A", "https://www.example.org/News/A"),
        ("http://example.org", "http://example.org/"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("http://example.org:443/a", "http://example.org:443/a"),
        ("https://example.org./a", "https://example.org/a"),
        ("https://example.org/a#comments", "https://example.org/a"),
        ("https://example.org/a?#", "https://example.org/a"),
        ("  https://example.org/a \n", "https://example.org/a"),
        ("https://example.org/a%7Eb/caf%C3%A9", "https://example.org/a~b/caf%C3%A9"),
        ("https://example.org/café news", "https://example.org/caf%C3%A9%20news"),
        ("http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a"),
        ("https://[::1]:443/a", "https://[::1]/a"),
        ("https://example.org/news/a/", "https://example.org/news/a"),
        ("https://example.org//", "https://example.org/"),
    ],
)
def test_canonicalize_url_examples(url: str, expected: str) -> None:
    """Scheme and host lower-cased, default port, fragment dropped, path case and escapes kept."""
    assert canonicalize_url(url) == expected


def test_tracking_parameters_are_dropped_and_others_kept_in_order() -> None:
    """utm_* (any case) and known trackers go; other parameters keep their order and values."""
    url = (
        "https://example.org/a?b=2&utm_source=rss&a=1&UTM_Medium=x&fbclid=F&gclid=G"
        "&mc_cid=1&mc_eid=2&ref=home&cmpid=c&__source=s&taid=t&smid=tw&ito=i&id=42&empty="
    )
    assert canonicalize_url(url) == "https://example.org/a?b=2&a=1&id=42&empty="


def test_query_of_only_trackers_disappears() -> None:
    """When every parameter is a tracker no "?" is left behind."""
    assert canonicalize_url("https://example.org/a?utm_source=x&fbclid=y") == (
        "https://example.org/a"
    )


def test_repeated_and_encoded_parameters_survive() -> None:
    """Repeated keys and encoded values are kept (re-encoded, same meaning)."""
    canonical = canonicalize_url("https://example.org/s?q=rare+earth&tag=a&tag=b&x=%26")
    assert parse_qsl(urlsplit(canonical).query) == [
        ("q", "rare earth"),
        ("tag", "a"),
        ("tag", "b"),
        ("x", "&"),
    ]


def test_spellings_of_one_article_agree() -> None:
    """Different spellings of one link collapse to one canonical URL."""
    spellings = [
        "https://www.example.org/news/1?id=7",
        "HTTPS://WWW.EXAMPLE.ORG:443/news/1?id=7#top",
        "https://www.example.org/news/1?utm_campaign=x&id=7&utm_source=feed",
        "https://www.example.org./news/%31?id=7",
    ]
    assert len({canonicalize_url(url) for url in spellings}) == 1


LABELS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
    min_size=1,
    max_size=12,
)
HOSTS = st.one_of(
    st.lists(LABELS, min_size=1, max_size=4).map(".".join),
    st.lists(LABELS, min_size=1, max_size=3).map(lambda labels: ".".join(labels) + "."),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
)
PORTS = st.one_of(st.none(), st.sampled_from([80, 443]), st.integers(min_value=1, max_value=65535))
PATH_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="?#\\"),
    max_size=20,
)
PATHS = st.lists(
    st.one_of(PATH_TEXT, st.sampled_from(["%2F", "%7E", "%25", "%zz", "%C3%A9", "%FF", "a%20b"])),
    max_size=4,
).map(lambda segments: "/" + "/".join(segments))
KEYS = st.one_of(
    st.sampled_from(["utm_source", "UTM_medium", "id", "page", "q", *sorted(TRACKING_PARAMETERS)]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8),
)
VALUES = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="#&"),
    max_size=10,
)
QUERIES = st.lists(st.tuples(KEYS, VALUES), max_size=5).map(
    lambda pairs: "&".join(f"{key}={value}" for key, value in pairs)
)


@st.composite
def http_urls(draw: st.DrawFn) -> str:
    """http(s) URLs in odd spellings: case, ports, trailing dots, escapes, trackers, fragments."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(HOSTS)
    port = draw(PORTS)
    netloc = host if port is None else f"{host}:{port}"
    query = draw(QUERIES)
    fragment = draw(st.one_of(st.none(), st.text(max_size=8)))
    url = f"{scheme}://{netloc}{draw(PATHS)}"
    if query:
        url += "?" + query
    if fragment is not None:
        url += "#" + fragment
    return url


@given(http_urls())
@example("http://[::1]:8080/a")
@example("https://example.org/%2525?q=%zz&utm_source=x#f")
def test_canonicalize_url_is_idempotent(url: str) -> None:
    """Canonicalising a canonical URL changes nothing."""
    once = canonicalize_url(url)
    assert canonicalize_url(once) == once


@given(http_urls())
def test_canonical_url_shape(url: str) -> None:
    """A canonical URL has a lower-case scheme, no fragment, no default port and no trackers."""
    canonical = canonicalize_url(url)
    parts = urlsplit(canonical)
    assert parts.scheme == urlsplit(url).scheme.lower()
    assert parts.hostname == (urlsplit(url).hostname or "").lower().rstrip(".")
    assert parts.fragment == "" and "#" not in canonical
    assert parts.port != {"http": 80, "https": 443}[parts.scheme]
    keys = [key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)]
    assert not any(key.startswith("utm_") or key in TRACKING_PARAMETERS for key in keys)


@given(http_urls())
@example("http://0/?mc_cid=&a=1")  # a tracker beyond utm_*, fbclid, gclid and ref
def test_canonicalisation_keeps_other_parameters_in_order(url: str) -> None:
    """Non-tracking parameters come out in their original order with their values."""
    kept = [
        (key, value)
        for key, value in parse_qsl(urlsplit(url.strip()).query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMETERS
    ]
    canonical = canonicalize_url(url)
    assert parse_qsl(urlsplit(canonical).query, keep_blank_values=True) == kept


@pytest.mark.parametrize(
    ("base", "link", "expected"),
    [
        (
            "https://example.org/news/2025/index.html",
            "a.html",
            "https://example.org/news/2025/a.html",
        ),
        (
            "https://example.org/news/2025/",
            "../2024/b.html",
            "https://example.org/news/2024/b.html",
        ),
        ("https://example.org/news/", "/about", "https://example.org/about"),
        ("https://example.org/news/", "//cdn.example.net/x", "https://cdn.example.net/x"),
        ("https://example.org/news/", "?page=2", "https://example.org/news/?page=2"),
        ("https://example.org/news/", "  http://other.org/y  ", "http://other.org/y"),
        ("http://example.org/a", "HTTPS://Other.org/Z", "HTTPS://Other.org/Z"),
    ],
)
def test_absolute_url_resolves_links(base: str, link: str, expected: str) -> None:
    """Relative, root-relative, scheme-relative and absolute links resolve against the page."""
    assert absolute_url(base, link) == expected


@pytest.mark.parametrize(
    "link",
    [
        "mailto:editor@example.org",
        "javascript:void(0)",
        "JavaScript:alert(1)",
        "tel:+15551234",
        "ftp://example.org/file",
        "data:text/html,hi",
        "http://[broken",
        "http://example.org:99999/a",
        "http://example.org:port/a",
    ],
)
def test_absolute_url_rejects_non_http_and_unparseable_links(link: str) -> None:
    """Links that are not usable http(s) URLs give None instead of raising."""
    assert absolute_url("https://example.org/news/", link) is None


@given(st.text(max_size=40))
def test_absolute_url_never_raises(link: str) -> None:
    """Any link text gives None or an http(s) URL that canonicalises without error."""
    resolved = absolute_url("https://example.org/news/", link)
    if resolved is not None:
        assert urlsplit(resolved).scheme in ("http", "https")
        canonicalize_url(resolved)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:secret@example.org/feed", "https://example.org/feed"),
        ("https://token@example.org", "https://example.org"),
        ("http://a@b:c@example.org:8080/x?to=y@z#f@g", "http://example.org:8080/x?to=y@z#f@g"),
        ("https://u:p%40ss@example.org/a", "https://example.org/a"),
        ("https://example.org/people/@someone", "https://example.org/people/@someone"),
        ("mailto:editor@example.org", "mailto:editor@example.org"),
        (
            "https://u:p@one.example/a: redirect loop at HTTP://v:q@two.example/b",
            "https://one.example/a: redirect loop at HTTP://two.example/b",
        ),
    ],
)
def test_credentials_are_left_out_of_urls_and_messages(text: str, expected: str) -> None:
    """User names and passwords go; hosts, paths, queries and '@' elsewhere stay."""
    assert without_credentials(text) == expected


def test_canonical_urls_carry_no_credentials() -> None:
    """An article linked with credentials is stored by its URL without them."""
    assert canonicalize_url("https://reader:secret@Example.org/a/") == "https://example.org/a"


@given(http_urls())
def test_credentials_leave_a_url_that_reads_the_same(url: str) -> None:
    """Leaving credentials out changes nothing else: the host, port, path and query read alike."""
    with_them = url.replace("://", "://reader:s%40cret@", 1)
    stripped = urlsplit(without_credentials(with_them))
    original = urlsplit(url)
    assert stripped.username is None and stripped.password is None
    assert (stripped.hostname, stripped.port, stripped.path, stripped.query) == (
        original.hostname,
        original.port,
        original.path,
        original.query,
    )
