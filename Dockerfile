# gate's own image, built the way gate asks every image to be built.
#
# - Every FROM is pinned by digest (rule builder.unpinned); both stages use the same base so the
#   venv's interpreter in the final stage is the one it was built with. To refresh the base, read
#   the multi-platform index digest of the tag and replace it in both FROM lines:
#       docker buildx imagetools inspect python:3.11.14-slim-bookworm   (or: crane digest ...)
#   then rebuild, check and sign: `gate check image <new ref>` must pass before it ships.
# - Dependencies come only from the hash-locked requirements.txt (--require-hashes, wheels only:
#   nothing is compiled, no compiler in any stage). Build for linux/amd64: the locked hyperscan
#   publishes no arm64 wheel, and building it from source would need a compiler.
# - No ARG or ENV carries a secret; the build needs no credentials (rule secret.build-arg/env).
# - Only explicit paths are copied; .dockerignore keeps the rest of the repository (.git, tests,
#   caches) out of the build context (rule content.source).
# - The final stage receives the venv, gate and its policies, without pip or setuptools, and runs as a
#   numeric non-root user (rules content.toolchain, user.root).

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements.txt ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --only-binary=:all: --no-deps -r requirements.txt
# gate is laid out under /opt/gate as in the repository (gate/ beside policies/, where
# gate.policy finds its shipped Rego) and put on the venv's path with a .pth file; the launcher is
# the console script pip would write from pyproject's [project.scripts]. Written by hand because
# building gate as a wheel needs setuptools' wheel builder, which is not in the hash-locked
# runtime requirements, and nothing unhashed may enter the image.
COPY gate/ /opt/gate/gate/
COPY policies/ /opt/gate/policies/
COPY docs/rules.md docs/input.schema.json /opt/gate/docs/
RUN echo /opt/gate > /opt/venv/lib/python3.11/site-packages/gate.pth \
 && printf '#!/opt/venv/bin/python\nimport sys\nfrom gate.cli import main\nsys.exit(main())\n' > /opt/venv/bin/gate \
 && chmod 0755 /opt/venv/bin/gate \
 && /opt/venv/bin/python -m pip uninstall -y pip setuptools \
 && /opt/venv/bin/python -m compileall -q /opt/gate/gate \
 && /opt/venv/bin/gate --version

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d
LABEL org.opencontainers.image.title="gate" \
      org.opencontainers.image.description="Supply-chain gate for container images" \
      org.opencontainers.image.licenses="Apache-2.0"
# The base image's own installer goes too (the files stay in the base layers, but not in the
# filesystem the container sees).
RUN rm -rf /usr/local/bin/pip* /usr/local/lib/python3.11/site-packages/pip \
           /usr/local/lib/python3.11/site-packages/pip-* \
           /usr/local/lib/python3.11/site-packages/setuptools \
           /usr/local/lib/python3.11/site-packages/setuptools-* \
           /usr/local/lib/python3.11/site-packages/wheel \
           /usr/local/lib/python3.11/site-packages/wheel-*
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/gate /opt/gate
# HOME=/tmp: the root filesystem is read-only in the cluster; caches (Sigstore trust root, layer
# cache) go to the writable /tmp.
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["gate"]
CMD ["serve", "--config", "/etc/gate/config.yaml", "--host", "0.0.0.0", "--port", "8443", \
     "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key"]
