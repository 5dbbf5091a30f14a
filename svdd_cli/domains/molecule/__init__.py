"""Small molecules: SELFIES tokens <-> SMILES (tokens.py) and the domain (domain.py: properties, SDF, MOSES
metrics against the MOSES test set)."""
