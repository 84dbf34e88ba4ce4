"""Content rules: what a leaked token looks like, how random it must be, and what is a known fake.

The token shapes, entropy thresholds and allowlists follow gitleaks' default configuration
(config/gitleaks.toml at b58d3f102cf3, MIT licence), translated from RE2 to Python ``re`` (bytes
patterns, so ``\\w`` stays ASCII like RE2). Each rule also has a ``prefilter``: a looser pattern
for the hyperscan multi-pattern pass, which must match wherever the rule can (it may match more).
``before``/``after`` bound how far the full match may reach around the prefilter's end offset.
``anchor`` makes the regex run only at ``hit end - anchor`` instead of over a window, and only
when the ``requires`` pattern occurs within reach.
``lead_in`` stands for gitleaks' leading ``[\\w.-]{0,N}?`` (see ``_matcher._lead_in``).
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gate.scan._stopwords import STOPWORDS
from gate.scan._structure import jwt_is_json, macaroon_is_complete

_END = rb"(?:[\x60'\"\s;]|\\[nr]|$)"
# Package-managed system trees: headers, docs and data files are full of ``key = value`` words that
# the generic assignment rule would report; token-shaped rules still run there.
SYSTEM_PATHS = re.compile(r"^usr/(?:share|include|lib|lib64|libexec|src)/")
_WHOLE = sys.maxsize  # ``re``'s own default end position


class LazyRegex:
    """A bytes regex compiled at its first use.

    Python compiles the rule table's ~140 patterns in about a sixth of a cached ``gate check``'s
    start-up, yet a run confirms hits of only a few rules (the hyperscan prefilters decide which).
    Compiling twice from two scanning threads at once is harmless: both get the same pattern.
    """

    __slots__ = ("source", "flags", "_compiled")

    def __init__(self, source: bytes, flags: int = 0) -> None:
        self.source, self.flags = source, flags
        self._compiled: re.Pattern[bytes] | None = None

    def compiled(self) -> re.Pattern[bytes]:
        if self._compiled is None:
            self._compiled = re.compile(self.source, self.flags)
        return self._compiled

    def search(self, data: bytes, pos: int = 0, endpos: int = _WHOLE) -> re.Match[bytes] | None:
        return self.compiled().search(data, pos, endpos)

    def match(self, data: bytes, pos: int = 0, endpos: int = _WHOLE) -> re.Match[bytes] | None:
        return self.compiled().match(data, pos, endpos)

    def finditer(self, data: bytes, pos: int = 0, endpos: int = _WHOLE) -> Iterator[re.Match[bytes]]:
        return self.compiled().finditer(data, pos, endpos)


@dataclass(frozen=True)
class ContentRule:
    """One detector: confirm regex, hyperscan prefilter, entropy floor and allowlists."""

    id: str
    regex: LazyRegex
    prefilter: bytes
    entropy: float = 0.0
    before: int = 256
    after: int = 256
    allow_secret: tuple[LazyRegex, ...] = ()
    allow_match: tuple[LazyRegex, ...] = ()
    allow_line: tuple[LazyRegex, ...] = ()
    stopwords: frozenset[bytes] = frozenset()
    path: re.Pattern[str] | None = None
    skip_paths: re.Pattern[str] | None = None
    needs_digit: bool = False
    caseless_prefilter: bool = False
    lead_in: int = 0
    anchor: int = 0
    requires: LazyRegex | None = None
    valid: Callable[[bytes], bool] | None = None


def _c(pattern: bytes, flags: int = 0) -> LazyRegex:
    return LazyRegex(pattern, flags)


_NOT_TOKEN_CHAR = rb"(?![0-9a-zA-Z_-])"
# A GitLab token run followed by ``.`` and nine characters is a routable token (its own rule).
_NOT_GITLAB_CHAR = rb"(?![0-9a-zA-Z_-]|\.[0-9a-z]{9}\b)"


def _token(rule_id: str, body: bytes, entropy: float = 3.0) -> ContentRule:
    """A fixed-length token (``ghp_[0-9a-zA-Z]{36}``): real ones are exactly that long, so the
    confirming regex refuses a longer run of token characters (fewer false positives than gitleaks)."""
    return ContentRule(rule_id, _c(body + _NOT_TOKEN_CHAR), body, entropy)


def _gitlab(rule_id: str, body: bytes, prefilter: bytes | None = None, after: int = 256) -> ContentRule:
    """A GitLab token with GitLab's length rule: fixed (``glimt-`` 25) or a range where GitLab issues
    several lengths (``glpat-`` 20 to 50, as detect-secrets; gitleaks knows only 20). A longer run of
    token characters is not one; ``prefilter`` is the shortest form of a ranged ``body``."""
    return ContentRule(rule_id, _c(body + _NOT_GITLAB_CHAR), prefilter or body, 3.0, after=after)


_PEM_HEADER_END = re.compile(rb"(?i)PRIVATE KEY(?: BLOCK)?-----")
_ESCAPED_BREAKS = re.compile(rb"(?:\\[nr]|\s)+")
_LONE_WORD = re.compile(rb"^[A-Za-z]+$")


def _key_body(block: bytes) -> bool:
    """Whether a ``-----BEGIN … PRIVATE KEY-----`` block has a body that could be a key.

    Any body counts (short, truncated, odd), except none (a NUL ends it: a header constant in a
    binary is not a key), a stand-in (``...``, ``<key>``, one word
    such as ``anything``) or a quote right after the header (a string constant in code, like
    ``HEADER = "-----BEGIN RSA PRIVATE KEY-----\\n"``). ``\\n`` escapes count as line breaks.
    """
    start = _PEM_HEADER_END.search(block)
    if start is None:
        return False
    end = block.find(b"-----END", start.end())
    body = block[start.end() : end if end >= 0 else len(block)].split(b"\0", 1)[0]  # a C string ends at NUL
    body = _ESCAPED_BREAKS.sub(b" ", body).strip()
    if not body or body[:1] in b"\"'\x60":
        return False
    return not _LONE_WORD.match(body) and not is_placeholder(body)


_GCP_EXAMPLES = (
    rb"AIzaSyabcdefghijklmnopqrstuvwxyz1234567|AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs|"
    rb"AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM|AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU|"
    rb"AIzaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0|AIzayDNSXIbFmlXbIE6mCzDLQAqITYefhixbX4A|"
    rb"AIzaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c|AIzaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4|"
    rb"AIzaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY|AIzaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM|"
    rb"AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ|AIzaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g|"
    rb"AIzaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU|AIzaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw|"
    rb"AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE|AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY"
)

_GENERIC_ALLOW_MATCH = _c(
    rb"(?i)(?:access(?:ibility|or)|access[_.-]?id|random[_.-]?access|api[_.-]?(?:id|name|version)|rapid|capital|"
    rb"[a-z0-9-]*?api[a-z0-9-]*?:jar:|author|X-MS-Exchange-Organization-Auth|Authentication-Results|"
    rb"(?:credentials?[_.-]?id|withCredentials)|(?:bucket|foreign|hot|idx|natural|primary|pub(?:lic)?|schema|"
    rb"sequence)[_.-]?key|(?:turkey)|key[_.-]?(?:alias|board|code|frame|id|length|mesh|name|pair|press(?:ed)?|"
    rb"ring|selector|signature|size|stone|storetype|word|up|down|left|right)|key[_.-]?vault[_.-]?(?:id|name)|"
    rb"keyVaultToStoreSecrets|key(?:store|tab)[_.-]?(?:file|path)|issuerkeyhash|(?-i:[DdMm]onkey|[DM]ONKEY)|"
    rb"keying|(?:secret)[_.-]?(?:length|name|size)|UserSecretsId|(?:csrf)[_.-]?token|"
    rb"(?:io\.jsonwebtoken[ \t]?:[ \t]?[\w-]+)|(?:api|credentials|token)[_.-]?(?:endpoint|ur[il])|"
    rb"public[_.-]?token|(?:key|token)[_.-]?file|"
    rb"(?-i:(?:[A-Z_]+=\n[A-Z_]+=|[a-z_]+=\n[a-z_]+=)(?:\n|\Z))|(?-i:(?:[A-Z.]+=\n[A-Z.]+=|[a-z.]+=\n[a-z.]+=)(?:\n|\Z)))"
)

# gitleaks' curl rules use unbounded ``.*``; lines are bounded here so one attempt stays linear.
_LINE = rb"[^\r\n]{0,1024}"
_CURL_HEADER_VALUE = (
    rb"(?i:Authorization:[ \t]{0,5}(?:Basic[ \t]([a-z0-9+/]{8,}={0,3})|(?:Bearer|(?:Api-)?Token)[ \t]([\w=~@.+/-]{8,})"
    rb"|([\w=~@.+/-]{8,}))|(?:(?:X-(?:[a-z]+-)?)?(?:Api-?)?(?:Key|Token)):[ \t]{0,5}([\w=~@.+/-]{8,}))"
)

RULES: tuple[ContentRule, ...] = (
    ContentRule(
        "aws-access-token",
        _c(rb"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b"),
        rb"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
        3.0,
        allow_secret=(_c(rb".+EXAMPLE$"),),
    ),
    _token("github-pat", rb"ghp_[0-9a-zA-Z]{36}"),
    _token("github-fine-grained-pat", rb"github_pat_\w{82}"),
    _token("github-oauth", rb"gho_[0-9a-zA-Z]{36}"),
    _token("github-app-token", rb"(?:ghu|ghs)_[0-9a-zA-Z]{36}"),
    _token("github-refresh-token", rb"ghr_[0-9a-zA-Z]{36}"),
    # CI/CD job tokens carry an optional partition (``glcbt-64_…``).
    _gitlab("gitlab-cicd-job-token", rb"glcbt-(?:[0-9a-zA-Z]{1,5}_)?[0-9a-zA-Z_-]{20,50}", rb"glcbt-[0-9a-zA-Z_-]{20}"),
    _gitlab("gitlab-deploy-token", rb"gldt-[0-9a-zA-Z_-]{20,50}", rb"gldt-[0-9a-zA-Z_-]{20}"),
    _gitlab("gitlab-feature-flag-client-token", rb"glffct-[0-9a-zA-Z_-]{20}"),
    _gitlab("gitlab-feed-token", rb"glft-[0-9a-zA-Z_-]{20,50}", rb"glft-[0-9a-zA-Z_-]{20}"),
    _gitlab("gitlab-incoming-mail-token", rb"glimt-[0-9a-zA-Z_-]{25}"),
    _gitlab("gitlab-kubernetes-agent-token", rb"glagent-[0-9a-zA-Z_-]{50,1024}", rb"glagent-[0-9a-zA-Z_-]{50}",
            after=1100),
    _gitlab("gitlab-oauth-app-secret", rb"gloas-[0-9a-zA-Z_-]{64}"),
    _gitlab("gitlab-pat", rb"glpat-[\w-]{20,50}", rb"glpat-[\w-]{20}"),
    ContentRule(
        "gitlab-pat-routable",
        _c(rb"\bglpat-[0-9a-zA-Z_-]{27,300}\.[0-9a-z]{2}[0-9a-z]{7}\b"),
        rb"glpat-[0-9a-zA-Z_-]{27}",
        4.0,
        after=320,
    ),
    _gitlab("gitlab-ptt", rb"glptt-[0-9a-zA-Z_-]{40}"),
    _gitlab("gitlab-rrt", rb"GR1348941[\w-]{20,50}", rb"GR1348941[\w-]{20}"),
    _gitlab("gitlab-runner-authentication-token", rb"glrt-[0-9a-zA-Z_-]{20,50}", rb"glrt-[0-9a-zA-Z_-]{20}"),
    ContentRule(
        "gitlab-runner-authentication-token-routable",
        _c(rb"\bglrt-t\d_[0-9a-zA-Z_\-]{27,300}\.[0-9a-z]{2}[0-9a-z]{7}\b"),
        rb"glrt-t\d_[0-9a-zA-Z_\-]{27}",
        4.0,
        after=320,
    ),
    _gitlab("gitlab-scim-token", rb"glsoat-[0-9a-zA-Z_-]{20,50}", rb"glsoat-[0-9a-zA-Z_-]{20}"),
    _token("gitlab-session-cookie", rb"_gitlab_session=[0-9a-z]{32}"),
    ContentRule("slack-app-token", _c(rb"(?i)xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"), rb"xapp-\d-", 2.0,
                after=512, caseless_prefilter=True),
    ContentRule("slack-bot-token", _c(rb"xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*"), rb"xoxb-[0-9]{10}", 3.0,
                after=512),
    ContentRule("slack-config-access-token", _c(rb"(?i)xoxe.xox[bp]-\d-[A-Z0-9]{163,166}"), rb"xoxe.xox[bp]-\d-",
                2.0, after=200, caseless_prefilter=True),
    ContentRule("slack-config-refresh-token", _c(rb"(?i)xoxe-\d-[A-Z0-9]{146}"), rb"xoxe-\d-", 2.0, after=160,
                caseless_prefilter=True),
    ContentRule("slack-legacy-bot-token", _c(rb"xoxb-[0-9]{8,14}-[a-zA-Z0-9]{18,26}"), rb"xoxb-[0-9]{8}", 2.0,
                after=64),
    ContentRule("slack-legacy-token", _c(rb"xox[os]-\d+-\d+-\d+-[a-fA-F\d]+"), rb"xox[os]-\d", 2.0, after=512),
    ContentRule("slack-legacy-workspace-token", _c(rb"xox[ar]-(?:\d-)?[0-9a-zA-Z]{8,48}"), rb"xox[ar]-", 2.0,
                after=64),
    # The numeric parts are workspace and user IDs, not random: the entropy floor judges the hex secret.
    ContentRule("slack-token", _c(rb"xox[abposr]-\d{6,}-\d{6,}(?:-\d{6,})?-((?=[0-9]*[a-fA-F])[0-9a-fA-F]{10,64})\b"),
                rb"xox[abposr]-\d{6,}-\d{6,}-",
                3.0, after=160),
    ContentRule("slack-user-token", _c(rb"xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}"), rb"xox[pe]-[0-9]{10}",
                2.0, after=128),
    ContentRule("slack-webhook-url",
                _c(rb"(?:https?://)?hooks.slack.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}"),
                rb"hooks.slack.com/(?:services|workflows|triggers)/", 0.0, after=64),
    ContentRule("stripe-access-token", _c(rb"\b((?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99})" + _END),
                rb"\b(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10}", 2.0, after=128),
    ContentRule("gcp-api-key", _c(rb"\b(AIza[\w-]{35})(?:[\x60'\"\s;]|\\[nr]|$)"), rb"\bAIza[\w-]{35}", 4.0,
                allow_secret=(_c(_GCP_EXAMPLES),)),
    # From the header's ``PRIVATE KEY`` (the prefilter matched ``-----BEGIN …`` before it): the
    # body up to the next ``-----`` (or the end of what is read: a truncated key counts) and the
    # footer if that is one. The body never runs past another header, so a decoy header (a string
    # constant) cannot swallow the key after it; one attempt per header keeps a file dense with
    # headers linear.
    ContentRule("private-key",
                _c(rb"(?i)PRIVATE KEY(?: BLOCK)?-----(?:[^-]|-(?!----))*"
                   rb"(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)?"),
                rb"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY", 0.0, after=65536, anchor=len(b"PRIVATE KEY"),
                caseless_prefilter=True, valid=_key_body),
    ContentRule("npm-access-token", _c(rb"(?i)\b(npm_[a-z0-9]{36})" + _END), rb"\bnpm_[a-z0-9]{36}", 2.0,
                caseless_prefilter=True),
    ContentRule("pypi-upload-token", _c(rb"pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[\w-]{50,1000}"),
                rb"pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)", 3.0, after=1100, valid=macaroon_is_complete),
    ContentRule("npm-legacy-token",
                _c(rb"(?i)_authToken\s*=\s*['\"]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b"),
                rb"_authToken\s*=\s*['\"]?[0-9a-f]{8}-", 3.0, before=64, after=64, caseless_prefilter=True),
    ContentRule("dockerhub-pat", _c(rb"\b(dckr_(?:pat|oat)_[a-zA-Z0-9_-]{27,})" + _END), rb"dckr_(?:pat|oat)_",
                3.0, after=96),
    ContentRule("jwt",
                _c(rb"\b(ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/\\_-]{17,}(?:\.(?:[a-zA-Z0-9/\\_-]{10,}={0,2})?)?)" + _END),
                rb"\bey[a-zA-Z0-9]{17}", 3.0, after=16384, valid=jwt_is_json),
    ContentRule(
        "jwt-base64",
        _c(rb"\bZXlK(?:aGJHY2lPaU|aGNIVWlPaU|aGNIWWlPaU|aGRXUWlPaU|aU5qUWlP|amNtbDBJanBi|amRIa2lPaU|bGNHc2lPbn|"
           rb"bGJtTWlPaU|cWEzVWlPaU|cWQyc2lPb|cGMzTWlPaU|cGRpSTZJ|cmFXUWlP|clpYbGZiM0J6SWpwY|cmRIa2lPaUp|"
           rb"dWIyNWpaU0k2|d01tTWlP|d01uTWlPaU|d2NIUWlPaU|emRXSWlPaU|emRuUWlP|MFlXY2lPaU|MGVYQWlPaUp|MWNtd2l|"
           rb"MWMyVWlPaUp|MlpYSWlPaU|MlpYSnphVzl1SWpv|NElqb2|NE5XTWlP|NE5YUWlPaU|NE5YUWpVekkxTmlJNkl|NE5YVWlPaU|"
           rb"NmFYQWlPaU)[a-zA-Z0-9/\\_+\-\r\n]{40,}={0,2}"),
        rb"\bZXlK", 2.0, after=65536,
    ),
    ContentRule(
        "generic-api-key",
        _c(rb"(?i)(?:access|auth|(?-i:[Aa]pi|API)|credential|creds|key|passw(?:or)?d|secret|token)"
           rb"(?:[ \t\w.-]{0,20})[\s'\"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'\"\s=]{0,5}"
           rb"([\w.=-]{10,150}|[a-z0-9][a-z0-9+/]{11,}={0,3})" + _END),
        rb"(?:access|auth|api|credential|creds|key|passw(?:or)?d|secret|token)[ \t\w.-]{0,20}[\s'\"]{0,3}"
        rb"(?:=>?|>|:{1,3}=?|\|\||\?=|,)[\x60'\"\s=]{0,5}[\w.=+/-]{10}",
        3.5,
        before=110, after=160,
        # gitleaks: letters only. gate adds snake_case/SCREAMING_CASE code identifiers
        # (``sqlite3_int64``, ``CKK_NSS_ROUND1``): each segment a one-case word with at most four
        # trailing digits, which random keys (``CLOJARS_34bf0e88…``) are not.
        allow_secret=(_c(rb"^[a-zA-Z_.-]+$"), _c(rb"^(?:[A-Z]+\d{0,4}|[a-z]+\d{0,4})(?:[_.](?:[A-Z]+\d{0,4}|[a-z]+\d{0,4}|\d{1,4}))+$")),
        allow_match=(_GENERIC_ALLOW_MATCH,),
        allow_line=(_c(rb"--mount=type=secret,"), _c(rb"import[ \t]+{[ \t\w,]+}[ \t]+from[ \t]+['\"][^'\"]+['\"]")),
        stopwords=STOPWORDS,
        needs_digit=True,
        caseless_prefilter=True,
        lead_in=50,
        skip_paths=SYSTEM_PATHS,
    ),
    ContentRule(
        "curl-auth-user",
        _c(rb"\bcurl\b(?:" + _LINE + rb"|" + _LINE + rb"(?:[\r\n]{1,2}" + _LINE + rb"){1,5})[ \t\n\r](?:-u|--user)(?:=|[ \t]{0,5})"
           rb"(\"(:[^\"]{3,}|[^:\"]{3,}:|[^:\"]{3,}:[^\"]{3,})\"|'([^:']{3,}:[^']{3,})'|"
           rb"((?:\"[^\"]{3,}\"|'[^']{3,}'|[\w$@.-]+):(?:\"[^\"]{3,}\"|'[^']{3,}'|[\w${}@.-]+)))(?:\s|\Z)"),
        rb"\bcurl\b", 2.0, before=8, after=6 * 1024 + 512, anchor=4, requires=_c(rb"-u|--user"),
        allow_secret=(
            _c(rb"[^:]+:(?:change(?:it|me)|pass(?:word)?|pwd|test|token|\*+|x+)"),
            _c(rb"['\"]?<[^>]+>['\"]?:['\"]?<[^>]+>|<[^:]+:[^>]+>['\"]?"),
            _c(rb"[^:]+:\[[^]]+]"),
            _c(rb"['\"]?[^:]+['\"]?:['\"]?\$(?:\d|\w+|\{(?:\d|\w+)})['\"]?"),
            _c(rb"\$\([^)]+\):\$\([^)]+\)"),
            _c(rb"['\"]?\$?{{[^}]+}}['\"]?:['\"]?\$?{{[^}]+}}['\"]?"),
        ),
    ),
    ContentRule(
        "curl-auth-header",
        _c(rb"\bcurl\b(?:" + _LINE + rb"?|" + _LINE + rb"?(?:[\r\n]{1,2}" + _LINE + rb"?){1,5})[ \t\n\r](?:-H|--header)(?:=|[ \t]{0,5})"
           rb"(?:\"" + _CURL_HEADER_VALUE + rb"\"|'" + _CURL_HEADER_VALUE + rb"')(?:\B|\s|\Z)"),
        rb"\bcurl\b", 2.75, before=8, after=6 * 1024 + 512, anchor=4, requires=_c(rb"-H|--header"),
    ),
    ContentRule("sidekiq-sensitive-url",
                _c(rb"(?i)\bhttps?://([a-f0-9]{8}:[a-f0-9]{8})@(?:gems.contribsys.com|enterprise.contribsys.com)"
                   rb"(?:[/|#?:]|$)"),
                rb"@(?:gems|enterprise).contribsys.com", 0.0, before=40, caseless_prefilter=True),
    ContentRule(
        "kubernetes-secret-yaml",
        _c(rb"(?i)(?:\bkind:[ \t]*[\"']?\bsecret\b[\"']?(?s:.){0,200}?\bdata:(?s:.){0,100}?\s+([\w.-]+:"
           rb"(?:[ \t]*(?:\||>[-+]?)\s+)?[ \t]*(?:[\"']?[a-z0-9+/]{10,}={0,3}[\"']?|\{\{[ \t\w\"|$:=,.-]+}}|\"\"|''))|"
           rb"\bdata:(?s:.){0,100}?\s+([\w.-]+:(?:[ \t]*(?:\||>[-+]?)\s+)?[ \t]*(?:[\"']?[a-z0-9+/]{10,}={0,3}[\"']?|"
           rb"\{\{[ \t\w\"|$:=,.-]+}}|\"\"|''))(?s:.){0,200}?\bkind:[ \t]*[\"']?\bsecret\b[\"']?)"),
        rb"\bkind:[ \t]*[\"']?secret\b", 0.0, before=700, after=700,
        allow_secret=(_c(rb"[\w.-]+:(?:[ \t]*(?:\||>[-+]?)\s+)?[ \t]*(?:\{\{[ \t\w\"|$:=,.-]+}}|\"\"|'')"),),
        allow_match=(_c(rb"(kind:(?s:.)+\n---\n(?s:.)+\bdata:|data:(?s:.)+\n---\n(?s:.)+\bkind:)"),),
        path=re.compile(r"(?i)\.ya?ml$"),
        caseless_prefilter=True,
    ),
    ContentRule(
        "url-password",
        _c(rb"\b[a-z][a-z0-9+.-]{1,20}://[^\s/:@'\"]{1,100}:([^\s/@'\"<>{}$]{3,100})@[\w.-]+"),
        rb"://[^\s/:@'\"]{1,100}:[^\s/@'\"<>{}$]{3,100}@", 2.5, before=140, after=128,
        # ``user:password@`` is reported: ``password`` is a real (weak) password as often as a stand-in.
        allow_secret=(_c(rb"(?i)^(?:changeme|x+|\*+|test|example|dummy)$"),),
        caseless_prefilter=True,
    ),
)

# Placeholders, template variables and fakes that are never secrets, whatever rule matched them
# (gitleaks' global allowlist plus the forms documentation uses).
GLOBAL_ALLOW: tuple[LazyRegex, ...] = (
    _c(rb"(?i)^true|false|null$"),
    _c(rb"^(?i:a+|b+|c+|d+|e+|f+|g+|h+|i+|j+|k+|l+|m+|n+|o+|p+|q+|r+|s+|t+|u+|v+|w+|x+|y+|z+|\*+|\.+)$"),
    _c(rb"^\$(?:\d+|{\d+})$"),
    _c(rb"^\$(?:[A-Z_]+|[a-z_]+)$"),
    _c(rb"^\${(?:[A-Z_]+|[a-z_]+)}$"),
    _c(rb"^\{\{[ \t]*[\w ().|]+[ \t]*}}$"),
    _c(rb"^\$\{\{[ \t]*(?:(?:env|github|secrets|vars)(?:\.[A-Za-z]\w+)+[\w \"'&./=|]*)[ \t]*}}$"),
    _c(rb"^%(?:[A-Z_]+|[a-z_]+)%$"),
    _c(rb"^%[+\-# 0]?[bcdeEfFgGoOpqstTUvxX]$"),
    _c(rb"^\{\d{0,2}}$"),
    _c(rb"^@(?:[A-Z_]+|[a-z_]+)@$"),
    _c(rb"^/(?:bin|etc|home|opt|tmp|usr|var)/[\w ./-]+$"),
    _c(rb"^<[^<>]+>$"),
    _c(rb"(?i)^(?:changeme|change_me|changeit|placeholder|redacted|dummy|example|your[_-]?\w*)$"),
    _c(rb"(?i)x{6,}|\*{4,}"),
)
GLOBAL_STOPWORDS: tuple[bytes, ...] = (b"014df517-39d1-4453-b7b3-9930c563627c", b"abcdefghijklmnopqrstuvwxyz")

# Paths whose contents are third-party code and test fixtures, not the image author's secrets
# (gitleaks' global path allowlist, trimmed to what occurs in images).
ALLOWED_PATHS = re.compile(
    r"(?:^|/)node_modules/|(?:^|/)vendor/|(?:^|/)bower_components/|\.dist-info/|\.egg-info/|(?:site|dist)-packages/|"
    r"(?:^|/)(?:lib(?:64)?/python[23](?:\.\d{1,2})+|python/[23](?:\.\d{1,2})+/lib(?:64)?)/|"
    r"(?:^|/)(?:v?env|virtualenv)/lib(?:64)?/|(?:^|/)(?:deno\.lock|npm-shrinkwrap\.json|package-lock\.json|"
    r"pnpm-lock\.yaml|yarn\.lock|go\.sum|Pipfile\.lock|poetry\.lock)$|(?:^|/)usr/share/(?:doc|man|info|locale)/|"
    r"(?:^|/)usr/(?:local/)?lib/go(?:-[\d.]+)?/|(?:^|/)go/pkg/mod/|(?:^|/)\.cargo/registry/|(?:^|/)gems/|"
    r"(?i:\.(?:bmp|gif|jpe?g|png|svg|tiff?|eot|[ot]tf|woff2?|pdf)$)"
)


# Rules whose match carries a distinctive issuer prefix (``ghp_``, ``AKIA``, ``glpat-``, ``xoxb-``,
# ``npm_`` …): they hold even in third-party trees (ALLOWED_PATHS), where a word such as
# ``password = example123`` is noise but a real GitHub token is still a leak.
PREFIXED_RULES = frozenset(
    rule.id for rule in RULES
    if rule.id not in {"generic-api-key", "curl-auth-user", "curl-auth-header", "kubernetes-secret-yaml", "url-password",
                       "jwt", "jwt-base64", "private-key"}
)
# What is looked for in binary files (a NUL byte in the first 8 KiB): the prefixed tokens and PEM
# private keys, whose bytes survive intact inside executables, databases and caches.
BINARY_RULES = PREFIXED_RULES | {"private-key"}


def shannon_entropy(data: bytes) -> float:
    """Bits per symbol of ``data``: random tokens score ~4-6, words and repeats score low."""
    if not data:
        return 0.0
    length = len(data)
    return -sum(count / length * math.log2(count / length) for count in Counter(data).values())


def is_placeholder(secret: bytes) -> bool:
    """True for values that only stand in for a secret (``${TOKEN}``, ``changeme``, ``<token>``, ``xxxx``)."""
    lowered = secret.lower()
    if any(word in lowered for word in GLOBAL_STOPWORDS):
        return True
    return any(pattern.search(secret) for pattern in GLOBAL_ALLOW)
