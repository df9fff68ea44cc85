"""Corpus readers, the fixed trial protocol, metrics and the evaluation runner."""
