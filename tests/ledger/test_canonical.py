"""Golden vectors for the frozen canonical form (apps/ledger/canonical.py).

These bytes and digests were computed once and hard-coded. If this test fails, the canonical
form changed and every stored chain is broken: add a new CANONICAL_VERSION instead of editing.
"""

from datetime import UTC, datetime, timedelta, timezone

from apps.ledger.canonical import canonical_bytes, chain_hash
from apps.ledger.models import GENESIS_HASH

VECTOR_1 = {
    "seq": 1,
    "created_at": datetime(2026, 1, 15, 8, 30, 0, 123456, tzinfo=UTC),
    "actor_id": None,
    "actor_name": "",
    "region_path": "110000/",
    "action": "region.create",
    "target_type": "organizations.region",
    "target_id": "1",
    "target_repr": "北京市",
    "before": None,
    "after": {"code": "110000", "name": "北京市", "level": "province", "parent": None, "path": "110000/"},
    "request_id": "",
}
# A non-UTC aware time (+08:00), nested before/after, quotes and Chinese in target_repr.
VECTOR_2 = {
    "seq": 2,
    "created_at": datetime(2026, 1, 15, 16, 45, 30, 5, tzinfo=timezone(timedelta(hours=8))),
    "actor_id": 7,
    "actor_name": "zhangsan",
    "region_path": "110000/110100/",
    "action": "department.update",
    "target_type": "organizations.department",
    "target_id": "42",
    "target_repr": '应急管理局 "值班室"',
    "before": {"name": "应急管理局", "contact_phone": "010-1234", "is_active": True, "region": 3, "type": "emergency"},
    "after": {
        "name": '应急管理局 "值班室"',
        "contact_phone": "010-5678",
        "is_active": True,
        "region": 3,
        "type": "emergency",
        "extra": {"tags": ["防汛", "抗旱"], "n": 0},
    },
    "request_id": "req-abc.123",
}
VECTOR_3 = {
    "seq": 3,
    "created_at": datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "actor_id": None,
    "actor_name": "",
    "region_path": "",
    "action": "auth.login_failed",
    "target_type": "",
    "target_id": "",
    "target_repr": "",
    "before": None,
    "after": {"username": "李四"},
    "request_id": "",
}

BYTES_1 = (
    b'{"action":"region.create","actor_id":null,"actor_name":"",'
    b'"after":{"code":"110000","level":"province","name":"\xe5\x8c\x97\xe4\xba\xac\xe5\xb8\x82",'
    b'"parent":null,"path":"110000/"},"before":null,"created_at":"2026-01-15T08:30:00.123456Z",'
    b'"region_path":"110000/","request_id":"","seq":1,"target_id":"1",'
    b'"target_repr":"\xe5\x8c\x97\xe4\xba\xac\xe5\xb8\x82","target_type":"organizations.region","v":1}'
)
BYTES_2 = (
    b'{"action":"department.update","actor_id":7,"actor_name":"zhangsan",'
    b'"after":{"contact_phone":"010-5678","extra":{"n":0,"tags":["\xe9\x98\xb2\xe6\xb1\x9b","\xe6\x8a\x97\xe6\x97\xb1"]},'
    b'"is_active":true,'
    b'"name":"\xe5\xba\x94\xe6\x80\xa5\xe7\xae\xa1\xe7\x90\x86\xe5\xb1\x80 \\"\xe5\x80\xbc\xe7\x8f\xad\xe5\xae\xa4\\"",'
    b'"region":3,"type":"emergency"},'
    b'"before":{"contact_phone":"010-1234","is_active":true,"name":"\xe5\xba\x94\xe6\x80\xa5\xe7\xae\xa1\xe7\x90\x86\xe5\xb1\x80",'
    b'"region":3,"type":"emergency"},"created_at":"2026-01-15T08:45:30.000005Z",'
    b'"region_path":"110000/110100/","request_id":"req-abc.123","seq":2,"target_id":"42",'
    b'"target_repr":'
    b'"\xe5\xba\x94\xe6\x80\xa5\xe7\xae\xa1\xe7\x90\x86\xe5\xb1\x80 \\"\xe5\x80\xbc\xe7\x8f\xad\xe5\xae\xa4\\"",'
    b'"target_type":"organizations.department","v":1}'
)
BYTES_3 = (
    b'{"action":"auth.login_failed","actor_id":null,"actor_name":"",'
    b'"after":{"username":"\xe6\x9d\x8e\xe5\x9b\x9b"},"before":null,"created_at":"2025-12-31T23:59:59.999999Z",'
    b'"region_path":"","request_id":"","seq":3,"target_id":"","target_repr":"","target_type":"","v":1}'
)

# chain_hash(GENESIS_HASH, vector): each vector hashed on its own from the genesis hash.
FROM_GENESIS_1 = "3043a078eab78f0fff0ab1ad10ed6f25bcf3d200873e01becee26ade413ad526"
FROM_GENESIS_2 = "023bebf9f2036a1420323a40f0aac367ada50fa06d5e0126f806922eec10ae52"
FROM_GENESIS_3 = "c15d8d04bb905dab2662eff0b240484f369647646e96459cd5de1f76cc55a4e7"

# The chain GENESIS -> 1 -> 2 -> 3.
CHAIN_1 = FROM_GENESIS_1
CHAIN_2 = "c2ec69e12598cccc5289a476738239fc0667f742cdcbb7b46cceea036e11118d"
CHAIN_3 = "f7068f9b88add8625ad4539a769aeff70c31ffbfcce76448657cba2c7ce5b6b1"


def test_canonical_bytes_of_vector_1_are_frozen():
    assert canonical_bytes(VECTOR_1) == BYTES_1


def test_canonical_bytes_of_vector_2_are_frozen():
    assert canonical_bytes(VECTOR_2) == BYTES_2


def test_canonical_bytes_of_vector_3_are_frozen():
    assert canonical_bytes(VECTOR_3) == BYTES_3


def test_canonical_bytes_keep_chinese_as_utf8_not_ascii_escapes():
    data = canonical_bytes(VECTOR_1)
    assert "北京市".encode() in data
    assert b"\\u" not in data


def test_canonical_time_is_utc_with_microseconds():
    # 16:45:30.000005 at +08:00 is 08:45:30.000005Z
    assert b'"created_at":"2026-01-15T08:45:30.000005Z"' in canonical_bytes(VECTOR_2)


def test_chain_hash_of_each_vector_from_genesis_is_frozen():
    assert chain_hash(GENESIS_HASH, VECTOR_1) == FROM_GENESIS_1
    assert chain_hash(GENESIS_HASH, VECTOR_2) == FROM_GENESIS_2
    assert chain_hash(GENESIS_HASH, VECTOR_3) == FROM_GENESIS_3


def test_chain_over_the_vectors_from_genesis_is_frozen():
    h1 = chain_hash(GENESIS_HASH, VECTOR_1)
    h2 = chain_hash(h1, VECTOR_2)
    h3 = chain_hash(h2, VECTOR_3)
    assert (h1, h2, h3) == (CHAIN_1, CHAIN_2, CHAIN_3)


def test_chain_hash_depends_on_the_previous_hash():
    assert chain_hash(GENESIS_HASH, VECTOR_2) != chain_hash(CHAIN_1, VECTOR_2)


def test_key_order_of_before_and_after_does_not_change_bytes_or_hash():
    shuffled = dict(VECTOR_2)
    shuffled["before"] = dict(reversed(list(VECTOR_2["before"].items())))
    shuffled["after"] = dict(reversed(list(VECTOR_2["after"].items())))
    shuffled["after"]["extra"] = {"n": 0, "tags": ["防汛", "抗旱"]}
    assert list(shuffled["before"]) != list(VECTOR_2["before"])  # the order really differs
    assert canonical_bytes(shuffled) == BYTES_2
    assert chain_hash(CHAIN_1, shuffled) == CHAIN_2


def test_key_order_of_the_event_itself_does_not_change_the_hash():
    reordered = dict(reversed(list(VECTOR_1.items())))
    assert chain_hash(GENESIS_HASH, reordered) == FROM_GENESIS_1


def test_fields_outside_the_canonical_set_are_ignored():
    extended = {**VECTOR_3, "id": 99, "hash": "f" * 64, "prev_hash": "e" * 64, "region_id": 5}
    assert canonical_bytes(extended) == BYTES_3


def test_any_changed_canonical_field_changes_the_hash():
    for name, value in [
        ("seq", 4),
        ("actor_id", 1),
        ("actor_name", "x"),
        ("target_repr", "北京"),
        ("after", {"username": "李五"}),
        ("request_id", "r"),
        ("created_at", datetime(2025, 12, 31, 23, 59, 59, 999998, tzinfo=UTC)),
    ]:
        assert chain_hash(GENESIS_HASH, {**VECTOR_3, name: value}) != FROM_GENESIS_3, name
