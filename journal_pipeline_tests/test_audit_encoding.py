"""The canonical encoding of a journal line (journal_line/v1): exact bytes, exact hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import polars as pl
import pytest

from journal_pipeline.audit.chain import GENESIS_HASH, SealFields, seal_hash, seal_metadata
from journal_pipeline.audit.encoding import (
    FIELD_NAMES,
    EncodingError,
    canonical_encodings,
    encode_line,
    in_leaf_order,
    leaf_hash_of_encoding,
    leaf_hashes,
)
from journal_pipeline.audit.leaves import digest_day, pack_identities, unpack_identities
from journal_pipeline.audit.merkle import EMPTY_ROOT, merkle_root

LINE = {
    "journal_date": dt.date(2024, 7, 18),
    "company_id": 1,
    "journal_type": "AP",
    "journal_no": 17,
    "line_no": 1,
    "txn_id": 1001,
    "account_code": "6000",
    "period": 2024007,
    "dc": "D",
    "amount_base": Decimal("123.40"),
    "amount_txn": Decimal("0.5000"),
    "currency": "EUR",
    "fx_rate": Decimal("1.08"),
    "description": "Rent July",
    "cost_center": None,
    "counterparty": None,
    "document_ref": "INV-1",
}
LINE_ENCODING = (
    b"10:2024-07-18,1:1,2:AP,2:17,1:1,4:1001,4:6000,7:2024007,1:D,6:123.40,3:0.5,3:EUR,10:1.08000000,"
    b"9:Rent July,~~5:INV-1,"
)
LINE_LEAF_HASH = "5c9ef8a28cb13949058f8ffcbcb11eb6e13dc55e12afda36e0d0a4d18e7cd028"


def decode(encoding: bytes) -> list[str | None]:
    """Parse an encoding back into its fields: proves it is unambiguous, and shows each field."""
    fields: list[str | None] = []
    position = 0
    while position < len(encoding):
        if encoding[position : position + 1] == b"~":
            fields.append(None)
            position += 1
            continue
        colon = encoding.index(b":", position)
        length = int(encoding[position:colon])
        value = encoding[colon + 1 : colon + 1 + length]
        assert encoding[colon + 1 + length : colon + 2 + length] == b","
        fields.append(value.decode("utf-8"))
        position = colon + 2 + length
    return fields


def field(line: dict[str, object], name: str) -> str | None:
    return decode(encode_line(line))[FIELD_NAMES.index(name)]


def test_a_fixed_line_has_fixed_bytes_and_a_fixed_leaf_hash():
    encoding = encode_line(LINE)
    assert encoding == LINE_ENCODING
    assert leaf_hash_of_encoding(encoding).hex() == LINE_LEAF_HASH
    assert hashlib.sha256(b"\x00" + LINE_ENCODING).hexdigest() == LINE_LEAF_HASH
    assert leaf_hashes(pl.DataFrame([LINE])) == [bytes.fromhex(LINE_LEAF_HASH)]
    assert len(decode(encoding)) == len(FIELD_NAMES) == 17


def test_null_and_the_empty_string_encode_differently():
    empty = encode_line({**LINE, "cost_center": ""})
    assert field({**LINE, "cost_center": ""}, "cost_center") == ""
    assert field(LINE, "cost_center") is None
    assert empty != LINE_ENCODING
    assert b",0:,~5:INV-1," in empty


def test_delimiters_inside_text_cannot_shift_a_field_boundary():
    # "a,b" + "c" against "a" + ",b" + ... : netstrings carry their length, so they differ.
    one = encode_line({**LINE, "description": "x,1:y", "cost_center": None})
    two = encode_line({**LINE, "description": "x", "cost_center": "y"})
    assert one != two
    tricky = {**LINE, "description": 'Café "déjà", 3:~\n\r\tend', "counterparty": "~"}
    assert decode(encode_line(tricky))[13:16] == ['Café "déjà", 3:~\n\r\tend', None, "~"]
    assert b"25:Caf\xc3\xa9" in encode_line(tricky)  # the length counts UTF-8 bytes, not characters
    assert b",9:Caf\xc3\xa9, 3:,~" in encode_line({**LINE, "description": "Café, 3:"})  # the module's example


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("amount_base", "5", "5.00"),
        ("amount_base", "0005.1", "5.10"),
        ("amount_base", "12.340", "12.34"),
        ("amount_base", "-0.00", "0.00"),
        ("amount_base", Decimal("1E+2"), "100.00"),
        ("amount_txn", "100.5000", "100.5"),
        ("amount_txn", "100.000", "100"),
        ("amount_txn", "0.000", "0"),
        ("amount_txn", "-0.0", "0"),
        ("amount_txn", "-000.25", "-0.25"),
        ("amount_txn", "123456789012345678901234.123456789", "123456789012345678901234.123456789"),
        ("fx_rate", "1.08", "1.08000000"),
        ("fx_rate", "1.0000000100", "1.00000001"),
        ("fx_rate", Decimal("0.5"), "0.50000000"),
    ],
)
def test_decimals_are_normalised(name, value, expected):
    assert field({**LINE, name: value}, name) == expected


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("amount_base", "12.345", "has more than 2 significant decimals"),
        ("fx_rate", "1.000000001", "has more than 8 significant decimals"),
        ("amount_txn", "1e5", "is not a plain decimal number"),
        ("amount_txn", " 1.5", "is not a plain decimal number"),
        ("amount_txn", "NaN", "is not a plain decimal number"),
        ("amount_base", "", "is not a plain decimal number"),
    ],
)
def test_a_value_without_a_canonical_form_is_refused_with_the_line_named(name, value, problem):
    with pytest.raises(EncodingError, match=rf"{name} .* \(company_id 1, txn_id 1001, line_no 1\) {problem}"):
        encode_line({**LINE, name: value})


def test_floats_are_refused():
    with pytest.raises(EncodingError, match="amount_base is a floating-point column"):
        encode_line({**LINE, "amount_base": 123.4})


def test_strings_decimals_and_integer_widths_encode_alike():
    as_text = {
        **LINE,
        "journal_date": "2024-07-18",
        "amount_base": "123.4",
        "amount_txn": "0.5",
        "fx_rate": "1.08000000",
    }
    assert encode_line(as_text) == LINE_ENCODING
    frame = pl.DataFrame([LINE]).with_columns(pl.col("company_id").cast(pl.Int32), pl.col("line_no").cast(pl.Int16))
    assert canonical_encodings(frame).item().encode() == LINE_ENCODING


def test_leaf_order_is_by_company_txn_and_line_whatever_the_row_order():
    lines = pl.DataFrame(
        [
            {**LINE, "company_id": 2, "txn_id": 5, "line_no": 1},
            {**LINE, "txn_id": 1002, "line_no": 2},
            {**LINE, "txn_id": 1002, "line_no": 1},
            LINE,
        ]
    )
    ordered = in_leaf_order(lines)
    assert ordered.select("company_id", "txn_id", "line_no").rows() == [
        (1, 1001, 1),
        (1, 1002, 1),
        (1, 1002, 2),
        (2, 5, 1),
    ]
    shuffled = digest_day(lines.reverse())
    assert digest_day(lines).root == shuffled.root == merkle_root(leaf_hashes(ordered))
    assert shuffled.total_debit == Decimal("493.60")
    assert shuffled.total_credit == Decimal("0.00")


def test_a_repeated_line_identity_is_refused():
    with pytest.raises(EncodingError, match="company 1 txn 1001 line 1 appears more than once"):
        in_leaf_order(pl.DataFrame([LINE, {**LINE, "amount_base": Decimal("1.00")}]))


def test_a_missing_column_is_refused():
    with pytest.raises(EncodingError, match=r"lack the column\(s\) fx_rate"):
        canonical_encodings(pl.DataFrame([LINE]).drop("fx_rate"))


def test_an_empty_day_has_the_empty_tree_root():
    empty = pl.DataFrame([LINE]).clear()
    assert digest_day(empty).root == EMPTY_ROOT
    assert digest_day(empty).total_debit == Decimal("0.00")


def test_identities_are_packed_in_14_big_endian_bytes():
    identities = pl.DataFrame({"company_id": [1, 70000], "txn_id": [1001, 2**40], "line_no": [3, -1]})
    blob = pack_identities(identities)
    assert blob.hex() == "0000000100000000000003e90003000111700000010000000000ffff"
    assert unpack_identities(blob).rows() == identities.rows()
    with pytest.raises(pl.exceptions.InvalidOperationError):
        pack_identities(identities.with_columns(pl.lit(40000).alias("line_no")))  # no silent wrap-around


def test_a_fixed_seal_has_fixed_metadata_and_hash():
    seal = SealFields(
        seal_seq=1,
        partition_date=dt.date(2024, 7, 18),
        line_count=3,
        total_debit=Decimal("246.80"),
        total_credit=Decimal("246.8"),
        merkle_root=bytes.fromhex(LINE_LEAF_HASH),
        leaf_identities_sha256=hashlib.sha256(b"").digest(),
        encoding_version="journal_line/v1",
        prev_seal_hash=GENESIS_HASH,
        sealed_at=dt.datetime(2024, 7, 19, 1, 2, 3, 4000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        run_id="run-1",
        code_version="0.1.0",
        supersedes_seq=None,
    )
    assert seal_metadata(seal) == (
        b"24:journal_pipeline/seal/v1,1:1,10:2024-07-18,1:3,6:246.80,6:246.80,"
        b"64:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,15:journal_line/v1,"
        b"27:2024-07-18T23:02:03.004000Z,5:run-1,5:0.1.0,~"
    )
    expected = hashlib.sha256(GENESIS_HASH + bytes.fromhex(LINE_LEAF_HASH) + seal_metadata(seal)).hexdigest()
    assert seal_hash(seal).hex() == expected == "dce73cca5bfeeefc8b4c1c60a658ece15fa81656347703a4166e5baca7580bdc"


def test_long_values_take_the_plain_path_with_the_same_bytes(monkeypatch):
    lines = pl.DataFrame([LINE, {**LINE, "line_no": 2, "description": "é" * 40_000, "cost_center": ""}])
    fast = canonical_encodings(lines).to_list()
    monkeypatch.setattr("journal_pipeline.audit.encoding._LOOKUP_LIMIT", 0)
    assert canonical_encodings(lines).to_list() == fast
    assert fast[0].encode() == LINE_ENCODING
    assert fast[1].startswith("10:2024-07-18,1:1,2:AP,2:17,1:2,") and ",80000:éé" in fast[1]


def test_canonical_and_non_canonical_values_in_one_column_all_end_canonical():
    lines = pl.DataFrame(
        [
            {**LINE, "line_no": 1, "amount_txn": "12.5"},
            {**LINE, "line_no": 2, "amount_txn": "12.50"},
            {**LINE, "line_no": 3, "amount_txn": "-0"},
        ]
    )
    assert [decode(e.encode())[10] for e in canonical_encodings(lines)] == ["12.5", "12.5", "0"]
