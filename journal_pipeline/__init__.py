"""Journal pipeline: the Dagster replacement for the legacy ``fn_insert_sun_journal`` function.

Where a day's data goes, in order (each a module you can open):

- ``journal_pipeline.defs.assets.extract``   source_transactions: COPY the day out of ``legacy.*``
- ``journal_pipeline.domain.posting``         journal_lines: posting rules, FX, periods, quarantine
- ``journal_pipeline.domain.vouchers``        vouchers: one balanced header per journal
- ``journal_pipeline.ledger``                 gl_postings: one transaction into ``ledger.*``
- ``journal_pipeline.fraud``                  fraud_scores: journal-entry tests and Benford
- ``journal_pipeline.audit``                  audit_seals: Merkle root, hash-chained seal
"""

__version__ = "0.1.0"
