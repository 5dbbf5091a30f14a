"""DNA (200-bp regulatory sequences): the domain is sequence.SequenceDomain over ACGT; naturalness.py judges a
run against real HepG2 DNase sites."""
