"""Evaluation of stored predictions (no model runs here): the fold ensemble and volume vote
(``predictions``), metric tables with confidence intervals (``tables``), how far the confidence
can be trusted (``confidence``) and the figures drawn from those tables (``plots``)."""
