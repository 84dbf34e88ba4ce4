"""Go's notion of white space, for readers that must trim text exactly as a Go program does.

``unicode.IsSpace`` (what ``bytes.TrimSpace``, ``strings.TrimSpace`` and ``TrimLeftFunc(unicode.IsSpace)``
strip) differs from Python's ``str.isspace``: it excludes the separators ``\\x1c``-``\\x1f``.
"""

GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
