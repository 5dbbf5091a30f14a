"""Domains: what a kind of sample is (core.Domain), one package each (dna, rna, molecule, protein, image) with its
naturalness figures against real data and the figures its tables lead with; sequence.py is the base DNA and RNA
share. Adding one: docs/domains.md."""
