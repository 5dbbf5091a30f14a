"""Images: the domain (domain.py: PNGs, a grid, Fashion-MNIST classifier confidence and Frechet distance)."""
