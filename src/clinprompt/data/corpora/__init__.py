"""Corpus loaders: each returns a :class:`clinprompt.data.corpora.base.Corpus`."""
