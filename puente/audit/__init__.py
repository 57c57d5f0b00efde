"""The RFC 9162 audit log: Merkle hashing and proofs, the append-only log, signed checkpoints."""
