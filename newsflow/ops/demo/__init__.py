"""`newsflow demo`: the whole pipeline on this machine, fed by a bundled sample news site."""
