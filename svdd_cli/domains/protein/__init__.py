"""Proteins: the domain (domain.py: ProtParam columns, FASTA, naturalness against held-out proteins)."""
