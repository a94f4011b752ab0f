"""Operations tooling: the production-like topology (topology.py), its fault scenarios (faults.py) and load tests."""
