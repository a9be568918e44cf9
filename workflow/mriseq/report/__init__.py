"""The reviewer's report (``html``: one self-contained page built from stored tables and figures)
and the headline tables of the README's results block (``summary``)."""
