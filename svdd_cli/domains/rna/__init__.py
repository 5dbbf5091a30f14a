"""RNA 5'UTRs: the domain (domain.py: folding columns) and its naturalness against real test UTR windows."""
