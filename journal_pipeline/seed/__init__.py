"""Deterministic synthetic data for the legacy source schema (``journal-pipeline seed``).

- :mod:`.catalog`: the static facts: currencies, legal entities, transaction types and their
  posting rules, account and name lists. Change the transaction mix here.
- :mod:`.reference`: companies, charts of accounts, posting rules, users and counterparties
  for a seed.
- :mod:`.fx`: the FX random walk and the ``fx_rates`` rows.
- :mod:`.transactions`: the ordinary transactions, drawn column by column, and their approvers.
- :mod:`.anomalies`: invalid rows and planted anomalies, and the ground truth (each kind is
  described there).
- :mod:`.render`: ordering, numbering, document references and COPY text.
- :mod:`.generator`: ``seed_database``: checks, COPY into PostgreSQL, the run summary.
"""
