"""OpenROI's database backend: Django's PostgreSQL backend that hands the row-level security scope to each
transaction (roi/rls.py)."""
