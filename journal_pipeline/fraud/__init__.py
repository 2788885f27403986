"""Fraud scoring (SPEC section 5): every posted transaction scored 0..1, each score explained.

Population-level journal-entry testing as auditors do it (ISA 240, AS 2401). Where things are:

- ``config``: every weight and threshold (FraudConfig), how the score combines, model_version;
- ``features``: the scored entries, one row per posted transaction, and per-day rolling sums;
- ``population``: what each day stores for the scoring of the days after it (its entries and
  per-day counts, written by journal_lines once) and the scored population read back from it;
- ``amounts``: the outlier test's exact median and MAD over 28 days, from binned daily amounts;
- ``jet``: the journal-entry tests, one pure function each (duplicates, limits, splits, timing,
  manual entries, self-approval, suspense, rare accounts and pairs, unusual posters, outliers,
  keywords);
- ``benford``: first digit, first two digits, last two digits per company and poster;
- ``score``: the tests run and combined into ``ledger.fraud_scores`` rows;
- ``store``: writing and reading ``ledger.fraud_scores``;
- ``report`` and ``evaluate``: the asset's metadata, ``fraud-report`` and ``fraud-eval``;
- ``commands``: the two CLI commands.

The Dagster asset is journal_pipeline/defs/assets/fraud.py. To add a test: a function in
``jet`` (or a module beside it), its name and weight in ``config``, a unit test on hand-made data.
A test that compares with earlier days reads ``pop.history``: the per-day counts
``population.day_frames`` stores (add a count there if it needs another; journal_lines then
writes it) or, by key, the earlier entries themselves (``History.entries_matching``).
"""
