"""Layer scan of built images: every copy-then-delete variant, final-filesystem secrets, leftovers,
the user, and the traps that must stay quiet. Images are built in memory with the shared factory."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gate.config import Limits
from gate.scan import LayerScanner
from gate.scan._leftovers import could_be_leftover, leftover
from tests.scan._scan import Scanned, chunked, scan_builder
from tests.scan._tokens import AWS, GITHUB, NPM
from tests.support.images import ImageBuilder
from tests.support.layers import Dir, Hardlink, Opaque, Symlink, compress, tar_bytes

NPMRC = f"//registry.npmjs.org/:_authToken={NPM}\n"
BASE = {"etc/": Dir(), "etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
        "usr/bin/apt": b"\x7fELF\0binary", "usr/bin/dpkg": b"\x7fELF\0binary", "root/": Dir()}


def _image(*layers: dict, user: str | None = "app", whiteouts: dict[int, list] | None = None) -> Scanned:
    builder = ImageBuilder()
    for index, files in enumerate(layers):
        builder.layer(files, whiteouts=(whiteouts or {}).get(index, ()), created_by=f"step {index} # buildkit")
    builder.config(user=user)
    return scan_builder(builder)


def _secret(scanned: Scanned) -> list[tuple]:
    return sorted((f.rule, f.path, f.layer, f.deleted_in_layer)
                  for f in scanned.findings if f.rule.startswith("secret."))


def test_clean_image_has_no_findings_and_runs_as_app() -> None:
    scanned = _image(BASE, {"app/main.py": "print('hello')\n"})
    assert scanned.findings == []
    assert (scanned.user.uid, scanned.user.is_root, scanned.user.resolved_by) == (1000, False, "passwd")


def test_secret_in_final_filesystem_carries_layer_digest_and_history() -> None:
    scanned = _image(BASE, {"root/.npmrc": NPMRC})
    [finding] = scanned.findings
    assert (finding.rule, finding.detector, finding.path, finding.layer) == ("secret.file", "npmrc", "root/.npmrc", 1)
    assert finding.layer_digest and finding.layer_digest.startswith("sha256:")
    assert finding.history == "step 1 # buildkit"
    assert NPM not in str(finding.to_json())


@pytest.mark.parametrize(
    ("later", "whiteouts"),
    [
        ({}, ["root/.npmrc"]),                                   # rm the file
        ({}, ["root"]),                                          # rm -rf the parent directory
        ({}, [Opaque("root")]),                                  # directory replaced (opaque)
        ({"root/.npmrc": "registry=https://registry.npmjs.org/\n"}, []),   # overwritten with a clean file
        ({"root": Symlink("/tmp")}, []),                         # parent replaced by a symlink
    ],
    ids=["whiteout-file", "whiteout-parent", "opaque-parent", "overwritten", "parent-replaced"],
)
def test_copy_then_delete_variants(later: dict, whiteouts: list) -> None:
    scanned = _image(BASE, {"root/.npmrc": NPMRC}, later, whiteouts={2: whiteouts})
    assert _secret(scanned) == [("secret.deleted-file", "root/.npmrc", 1, 2)]


def test_delete_in_a_much_later_layer_names_that_layer() -> None:
    scanned = _image(BASE, {"app/.env": f"GITHUB_TOKEN={GITHUB}\n"}, {"app/a": "1"}, {"app/b": "2"},
                     whiteouts={3: ["app/.env"]})
    assert _secret(scanned) == [("secret.deleted-file", "app/.env", 1, 3)]


def test_deleted_then_added_again_is_both() -> None:
    scanned = _image(BASE, {"root/.npmrc": NPMRC}, {}, {"root/.npmrc": NPMRC}, whiteouts={2: ["root/.npmrc"]})
    assert _secret(scanned) == [("secret.deleted-file", "root/.npmrc", 1, 2), ("secret.file", "root/.npmrc", 3, None)]


def test_opaque_directory_hides_only_its_own_subtree() -> None:
    scanned = _image(BASE, {"app/.npmrc": NPMRC, "srv/.npmrc": NPMRC}, {}, whiteouts={2: [Opaque("app")]})
    assert _secret(scanned) == [("secret.deleted-file", "app/.npmrc", 1, 2), ("secret.file", "srv/.npmrc", 1, None)]


def test_hardlink_keeps_a_deleted_secret_alive() -> None:
    layer = {"tmp/build/.npmrc": NPMRC, "srv/registry.conf": Hardlink("tmp/build/.npmrc")}
    scanned = _image(BASE, layer, {}, whiteouts={2: ["tmp/build"]})
    assert _secret(scanned) == [("secret.deleted-file", "tmp/build/.npmrc", 1, 2),
                                ("secret.file", "srv/registry.conf", 1, None)]


def test_hardlink_named_like_a_credential_file_is_one() -> None:
    """``root/.netrc`` linked to ``tmp/n`` is a netrc at run time; the target's bytes were checked
    only under its own, innocent name, so the link is reported by its name."""
    netrc = "machine build.example.com login ci password Hq7vTn2pXw9z\n"
    scanned = _image(BASE, {"tmp/n": netrc, "root/.netrc": Hardlink("tmp/n")})
    assert [(f.rule, f.detector, f.path) for f in scanned.findings] == [("secret.file", "netrc", "root/.netrc")]


def test_symlink_named_like_a_credential_file_is_not_one() -> None:
    assert _image(BASE, {"root/.npmrc": Symlink("/run/secrets/npmrc")}).findings == []


def _openssh_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption()).decode()


def _pem_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.mark.parametrize(
    ("path", "content", "detector"),
    [
        ("root/.ssh/id_ed25519", _openssh_key(), "ssh-private-key"),
        ("etc/ssl/private/server.key", _pem_key(), "private-key"),
        ("app/config/settings.yaml", f"github:\n  token: {GITHUB}\n", "github-pat"),
        ("root/.docker/config.json", '{"auths": {"registry.example.com": {"auth": "dXNlcjpodW50ZXIyMjI="}}}', "docker-config"),
        ("root/.git-credentials", "https://ci:Zp8qLmR2vX9t@git.example.com\n", "git-credentials"),
        ("root/.netrc", "machine api.example.com login ci password Zp8qLmR2vX9t\n", "netrc"),
        ("root/.aws/credentials", f"[default]\naws_access_key_id = {AWS}\n"
                                  "aws_secret_access_key = Zp8qLmR2vX9tQ7rT2vX9kLm4Np8Rs3Wu6Yz1Bc5D\n", "aws-credentials"),
        ("root/.kube/config", "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: Zp8qLmR2vX9tQ7rT2vX9\n", "kubeconfig"),
        ("root/.pypirc", "[pypi]\nusername = __token__\npassword = Zp8qLmR2vX9tQ7rT2vX9\n", "pypirc"),
        ("app/.env", "DEBUG=1\nDATABASE_PASSWORD=Zp8qLmR2vX9t\n", "dotenv"),
        ("app/certs/client.p12", b"\x30\x82\x01\x00binary", "pkcs12-file"),
    ],
)
def test_credential_files_in_final_filesystem(path: str, content: str | bytes, detector: str) -> None:
    scanned = _image(BASE, {path: content})
    assert scanned.findings[0].detector == detector  # the credential-file detector reports first
    assert {(f.rule, f.path) for f in scanned.findings} == {("secret.file", path)}


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("root/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\nregistry=https://registry.npmjs.org/\n"),
        ("app/.env.example", "DATABASE_PASSWORD=your-password\nAPI_KEY=<your api key>\nSECRET=${SECRET}\n"),
        ("app/.env", "DATABASE_PASSWORD=\nAPI_KEY=changeme\nTOKEN_FILE=/run/secrets/token\n"),
        ("root/.ssh/id_ed25519.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDbN3kqQ8p1fW2l1 ci@example\n"),
        ("etc/ssl/certs/server.pem", _public_pem()),
        ("root/.docker/config.json", '{"credHelpers": {"gcr.io": "gcloud"}}'),
        ("usr/share/doc/aws/README", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"),
        ("app/node_modules/jsonwebtoken/test/priv.pem", _pem_key()),
        ("app/settings.py", "PASSWORD = os.environ['PASSWORD']\nTOKEN = '<token>'\nSECRET = 'xxxxxxxxxxxx'\n"),
        ("app/Dockerfile", "RUN --mount=type=secret,id=npm,target=/root/.npmrc npm ci\n"),
    ],
)
def test_traps_stay_quiet(path: str, content: str) -> None:
    assert _image(BASE, {path: content}).findings == []


def test_root_user_variants() -> None:
    alias = {**BASE, "etc/passwd": "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"}
    assert _image(alias, user="toor").user.is_root
    assert _image(alias, user="0:0").user.resolved_by == "numeric"
    assert _image(alias, user="0:0").user.is_root
    assert _image(alias, user=None).user.resolved_by == "default"
    assert _image(alias, user="1000:0").user.is_root is False


def test_passwd_replaced_or_deleted_in_a_later_layer() -> None:
    replaced = _image(BASE, {"etc/passwd": "root:x:0:0::/root:/bin/sh\napp:x:0:0::/app:/bin/sh\n"})
    assert (replaced.user.uid, replaced.user.is_root) == (0, True)
    deleted = _image(BASE, {}, whiteouts={1: ["etc/passwd"]})
    assert (deleted.user.resolved_by, deleted.user.is_root) == ("unresolved", True)


def test_git_directory_caches_and_toolchain_leftovers() -> None:
    scanned = _image(BASE, {"app/.git/HEAD": "ref: refs/heads/main\n", "app/.git/config": "[core]\n",
                            "root/.cache/pip/http/ab/cd": b"\0cache", "app/go.mod": "module x\n",
                            "usr/bin/gcc-12": b"\x7fELF\0", "usr/bin/x86_64-linux-gnu-g++-12": b"\x7fELF\0",
                            "usr/lib/gcc/x86_64-linux-gnu/12/cc1": b"\x7fELF\0", "usr/local/go/bin/go": b"\x7fELF\0"})
    assert {(f.rule, f.detector, f.path) for f in scanned.findings} == {
        ("content.source", "vcs-metadata", "app/.git"),
        ("content.source", "pip-cache", "root/.cache/pip"),
        ("content.source", "source-tree", "app/go.mod"),
        ("content.toolchain", "c-compiler", "usr/bin/gcc-12"),
        ("content.toolchain", "go-toolchain", "usr/local/go/bin/go"),
    }


def test_leftovers_removed_later_do_not_count_and_package_managers_never_do() -> None:
    scanned = _image(BASE, {"app/.git/HEAD": "ref\n", "usr/bin/gcc": b"\x7fELF\0",
                            "usr/local/bin/pip": "#!/usr/bin/python\n", "usr/local/bin/npm": "#!/usr/bin/env node\n"},
                     {}, whiteouts={2: ["app/.git", "usr/bin/gcc"]})
    assert scanned.findings == []


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_every_compression_and_a_mislabelled_media_type(compression: str) -> None:
    blob = compress(tar_bytes({"root/.npmrc": NPMRC}), compression)  # type: ignore[arg-type]
    scan = LayerScanner(Limits()).scan(chunked(blob, 1000), "application/vnd.oci.image.layer.v1.tar", 0, "sha256:" + "a" * 64)
    assert scan.compression == ("tar" if compression == "none" else compression)
    assert [(h.kind, h.detector) for h in scan.hits] == [("secret", "npmrc")]


def test_large_files_are_skipped_but_names_still_checked_and_binaries_get_the_prefixed_rules() -> None:
    limits = Limits(file_bytes=1024)
    builder = ImageBuilder().layer({"root/.npmrc": NPMRC + "#" * 2000, "app/big.txt": f"token={GITHUB}\n" + "a" * 4000,
                                    "app/bin": b"\x7fELF\0" + GITHUB.encode(),
                                    "app/words.bin": b"\x7fELF\0 password = 'Zk3jd8Hs9dk2LmQ'\0"})
    scanned = scan_builder(builder, limits)
    assert {(f.detector, f.path) for f in scanned.findings} == {("npmrc", "root/.npmrc"), ("github-pat", "app/bin")}


def test_pkcs12_bundle_is_reported_by_name_even_when_it_looks_like_text() -> None:
    scanned = _image(BASE, {"app/certs/client.pfx": "MIIKcQIBAzCCCjcGCSqGSIb3DQEHAaCCCigEggokMIIKIDCCBNcGCSqGSIb3\n"})
    assert [(f.detector, f.path) for f in scanned.findings] == [("pkcs12-file", "app/certs/client.pfx")]


def test_history_is_left_out_when_it_cannot_be_matched_to_layers() -> None:
    builder = ImageBuilder().layer(BASE).layer({"root/.npmrc": NPMRC})
    builder.config(history=[{"created_by": "only one entry"}])
    [finding] = scan_builder(builder).findings
    assert finding.history is None and finding.layer == 1


def test_history_lines_in_findings_are_redacted() -> None:
    builder = ImageBuilder().layer(BASE).layer({"root/.npmrc": NPMRC}, created_by=f"RUN |1 NPM_TOKEN={NPM} /bin/sh -c x")
    findings = scan_builder(builder).findings
    assert {f.rule for f in findings} == {"secret.file", "secret.build-arg"}
    assert all(NPM not in (f.history or "") for f in findings)



def test_many_small_files_with_binaries_and_large_files_between_them() -> None:
    """Small text files are scanned in batches (one hyperscan call per ~4 MiB): a secret at the very
    start or end of a file, next to empty files, in a binary or in a large file is found in exactly
    its own file, and a token split across two neighbouring files is in neither."""
    words = "def handler(request):\n    return config.value  # token lookup\n" * 40
    files: dict[str, str | bytes] = {f"app/pkg{n % 7}/m{n}.py": words for n in range(2500)}
    files.update({
        "app/pkg0/m0.py": f"{GITHUB}\n" + words,  # first byte of the first batch
        "app/pkg1/m1.py": "",
        "app/pkg2/m1200.py": words + f"GITHUB_TOKEN={GITHUB}",  # last bytes of a file mid-batch
        "app/pkg3/m1201.py": "",
        "app/pkg4/m1500.py": words + GITHUB[:20],  # half a token ...
        "app/pkg5/m1501.py": GITHUB[20:] + "\n" + words,  # ... and the other half in the next file
        "usr/lib/plugin.so": b"\x7fELF\0\0\0" + bytes(5000) + GITHUB.encode() + b"\0" + bytes(3000),
        "var/log/app.log": words * 800 + f"\nexport AWS_ACCESS_KEY_ID={AWS}\n" + words * 800,
        "app/pkg6/m2499.py": words + GITHUB,  # last byte of the layer
    })
    scan = LayerScanner(Limits()).scan(chunked(tar_bytes(files), 1 << 20), "application/vnd.oci.image.layer.v1.tar", 0, "sha256:" + "b" * 64)
    assert scan.entries == len(files)
    assert {(h.detector, h.path) for h in scan.hits} == {
        ("github-pat", "app/pkg0/m0.py"), ("github-pat", "app/pkg2/m1200.py"), ("github-pat", "usr/lib/plugin.so"),
        ("aws-access-token", "var/log/app.log"), ("github-pat", "app/pkg6/m2499.py")}
    assert all(scan.has_file(path) for path in files) and not scan.has_file("app/pkg0")


@pytest.mark.parametrize(("path", "detector"), [
    ("usr/bin/gcc-12", "c-compiler"), ("usr/libexec/gcc/x86_64-linux-gnu/12/cc1plus", "c-compiler"),
    ("usr/local/go/bin/go", "go-toolchain"), ("root/.cargo/bin/rustc", "rust-toolchain"), ("opt/jdk/bin/javac", "jdk"),
    ("usr/lib/node_modules/node-gyp/package.json", "node-gyp"), ("usr/bin/ninja", "build-tool"),
    ("src/.hg/store/data", "vcs-metadata"), ("root/.cache/pip/wheels/x", "pip-cache"), ("root/.npm/_cacache/index", "npm-cache"),
    ("usr/local/share/.cache/yarn/v6/x", "yarn-cache"), ("root/.cargo/registry/index/x", "cargo-registry"),
    ("root/go/pkg/mod/cache/download/x", "go-cache"), ("root/.cache/go-build/ab/x", "go-cache"),
    ("root/.m2/repository/x.jar", "maven-cache"), ("root/.gradle/caches/x", "gradle-cache"),
    ("app/Cargo.toml", "source-tree"), ("app/pom.xml", "source-tree"), ("app/build.gradle.kts", "source-tree"),
])
def test_every_leftover_rule_passes_the_prefilter_a_walk_asks_first(path: str, detector: str) -> None:
    found = leftover(path, "file")
    assert found is not None and found[1] == detector
    assert could_be_leftover(path)
