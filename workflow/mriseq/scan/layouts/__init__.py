"""Dataset layouts: how a dataset's raw tree is arranged and where its reference labels come from.

One module per layout (``generic``, ``dlds``), each holding one ``LAYOUT``; ``base`` holds what
they share and ``registry`` the name -> layout table that the config, the rules and the scan ask.
"""
