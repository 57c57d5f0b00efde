"""Sharing between nodes: agreements (policy), field transforms, signed bundles, revocation, retention."""
