"""Test support for gate: real local registries (and a token server double) plus an image factory.

Everything here talks to real software on 127.0.0.1: Debian's ``docker-registry`` 2.8 is the
registry; only the token server that a real deployment would run elsewhere is a double.
"""
