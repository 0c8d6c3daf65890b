"""Measure answer quality: the hand-labelled seed questions and the BEIR SciFact benchmark.

Imports ``index`` (and talks to a running server over HTTP); never imports ``service``.
"""
