"""Test support for gate: real local registries (plus a token server double) and an image factory.

Everything talks to real software on 127.0.0.1: Debian's ``docker-registry`` 2.8 is the
registry, skopeo the independent reader; only the token server a real deployment would run
elsewhere is a double (:class:`tests.support.token_server.TokenServerDouble`).

Fixtures (``tests/conftest.py``): ``registry``, ``basic_auth_registry``, ``token_auth_registry``
(session-scoped :class:`~tests.support.registry_server.RegistryServer`: ``.host``, ``.url``,
``.credentials``, ``.token_server``), ``gate_config``, ``auth_gate_config`` and ``repo`` (a
repository name unique to the test).

Modules, one job each:

- ``registry_server``: start/stop registries (and what registry 2.8 accepts and refuses);
- ``token_server``: the token server double;
- ``push``: the push client (blob upload, manifests, basic and bearer auth);
- ``layers``: layer tarballs from file maps, hostile entries included;
- ``images``: ``ImageBuilder`` (OCI or Docker images), raw manifest pushes;
- ``artifacts``: indexes with BuildKit attestations, cosign ``.sig/.att/.sbom`` tags, OCI 1.1
  artifacts and the referrers tag-schema fallback;
- ``gate_config``: ``config_for(*registries)`` and docker ``config.json`` credentials;
- ``skopeo``: read pushed things back with skopeo.
"""
