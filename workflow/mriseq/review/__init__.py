"""The review page: a dataset's volumes as cards to check and relabel in a browser.

See docs/review.md.

:mod:`~mriseq.review.cards` builds the per-volume card data and their review order,
:mod:`~mriseq.review.thumbs` draws a strip of slices per volume from the tensors,
:mod:`~mriseq.review.sheet` states the labels sheet the page exports (the page's JavaScript writes
the same sheet), :mod:`~mriseq.review.page` writes ``results/<dataset>/review/index.html``.
"""
