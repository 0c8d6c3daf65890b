"""citeqa's web service and CLI: thin layers over the ``index`` engine."""
