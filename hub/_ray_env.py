"""Set before anything imports Ray: Ray reads its auth mode once, when it is first imported.

Ray 2.60 turns token authentication on for clusters it starts; every process that joins must
agree, so the runtime picks token mode unless the user chose otherwise. ``hub``, ``actors`` and
``serve`` import this module first.
"""

import os

os.environ.setdefault("RAY_AUTH_MODE", "token")
