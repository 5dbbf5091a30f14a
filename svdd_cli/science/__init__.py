"""Science helpers that rewards, domains and scripts share: chemistry (RDKit, MOSES, SELFIES tokens), RNA folding,
protein letters, sequence encoding and statistics, JASPAR motifs, images and the Fashion-MNIST classifier.

A leaf: nothing here imports from the rest of svdd_cli but svdd_cli.errors (tests/test_layers.py)."""
