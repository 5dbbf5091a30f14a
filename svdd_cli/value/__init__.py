"""SVDD-MC value networks v(x_t, t) and their training on rollouts of a pre-trained model."""
