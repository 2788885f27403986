"""The tamper-evident audit trail (SPEC section 6).

Pure (bytes and DataFrames in, bytes and findings out):

- ``encoding``: a journal line's canonical bytes and its leaf hash;
- ``merkle``: RFC 6962 trees, inclusion proofs and their verification;
- ``chain``: the exact bytes behind seal and event hashes;
- ``leaves``: a day's digest (leaves, root, totals) and the compact storage of its leaves;
- ``diff``: naming the lines of a day that changed since it was sealed;
- ``report``: findings and the verification report.

Database side (psycopg 3): ``store`` (reads: a day's lines block by block, seals, events),
``seal`` (seal_partitions, record_event, head, and the re-exported verify and prove),
``seal_check`` (check_new_seals: the cheap blocking check of ``audit_seals``), ``verification``
(verify: the full recomputation), ``proof`` (prove).
Command line: ``commands`` (``journal-pipeline audit verify|prove|head``). Timing: ``bench``.
"""
