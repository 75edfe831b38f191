"""The fault suite: the saga under load while servers restart, processes die and links drop.

`make test-faults` (`python -m sagabench.faults`) runs every row and writes the table;
docs/reliability.md ("Fault suite") says what each row does and proves.
"""
