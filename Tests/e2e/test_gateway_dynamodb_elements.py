"""DynamoDB transactions and batches through the gateway (session 10): their IAM actions and tables are inside the
body, one per element, and are now recorded and checked per element. Before, TransactWriteItems was unmapped: the ledger
held no action for it, so a generated policy missed it, and a deny rule on dynamodb:PutItem let a Put inside a
transaction through."""
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, Gateway


def make_table(ddb, name):
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")


def arn(table):
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"


def requested(gateway, operation):
    return [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("operation") == operation]


def test_transactions_and_batches_record_each_elements_action_and_table(gateway, agent):
    ddb = gateway.client(agent, "dynamodb")
    a, b = f"ta{uuid.uuid4().hex[:8]}", f"tb{uuid.uuid4().hex[:8]}"
    make_table(ddb, a)
    make_table(ddb, b)
    ddb.put_item(TableName=b, Item={"pk": {"S": "1"}, "v": {"N": "1"}})
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": a, "Item": {"pk": {"S": "x"}}}},
        {"Update": {"TableName": b, "Key": {"pk": {"S": "1"}}, "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"N": "2"}}}},
    ])
    assert ddb.get_item(TableName=a, Key={"pk": {"S": "x"}})["Item"]["pk"]["S"] == "x"
    tx = requested(gateway, "TransactWriteItems")
    assert tx and sorted(tx[-1]["actions"]) == ["dynamodb:PutItem", "dynamodb:UpdateItem"], tx[-1]
    assert arn(a) in tx[-1]["resources"] and arn(b) in tx[-1]["resources"], tx[-1]
    ddb.transact_get_items(TransactItems=[{"Get": {"TableName": a, "Key": {"pk": {"S": "x"}}}}])
    get = requested(gateway, "TransactGetItems")
    assert get and get[-1]["actions"] == ["dynamodb:GetItem"] and get[-1]["resources"] == [arn(a)], get[-1]
    ddb.batch_write_item(RequestItems={a: [{"PutRequest": {"Item": {"pk": {"S": "y"}}}}],
                                       b: [{"DeleteRequest": {"Key": {"pk": {"S": "1"}}}}]})
    batch = requested(gateway, "BatchWriteItem")
    assert batch and batch[-1]["actions"] == ["dynamodb:BatchWriteItem"], batch[-1]
    assert sorted(batch[-1]["resources"]) == sorted([arn(a), arn(b)]), batch[-1]


@pytest.fixture
def deny_put(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret,
                 config={"deny": [{"action": "dynamodb:PutItem", "reason": "no writes of new items"}]})
    yield gw
    gw.stop()


def test_a_deny_rule_on_an_action_sees_it_inside_a_transaction(deny_put):
    agent = deny_put.issue("ddb-deny")
    ddb = deny_put.client(agent, "dynamodb")
    table = f"td{uuid.uuid4().hex[:8]}"
    make_table(ddb, table)
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "secret"}}}}])
    assert refused.value.response["Error"]["Code"].startswith("AccessDenied"), refused.value.response
    assert "dynamodb:PutItem" in str(refused.value)
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "secret"}})
    # A transaction without a Put is not what the rule names: it goes through.
    ddb.transact_write_items(TransactItems=[{"ConditionCheck": {
        "TableName": table, "Key": {"pk": {"S": "none"}}, "ConditionExpression": "attribute_not_exists(pk)"}}])
    denied = [e for e in deny_put.events() if e.get("type") == "call.denied" and e.get("operation") == "TransactWriteItems"]
    assert denied and "dynamodb:PutItem" in denied[-1]["actions"], denied


def test_a_partiql_verb_tally_cannot_read_for_sure_meets_every_partiql_deny(moto, tmp_path):
    # Session 10 review: "SELECT" + a combining mark was no prefix "select" to Tally (Swift Characters), so the
    # statement was recorded with no action and passed a PartiQLSelect deny; moto read the SELECT after it.
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret,
                 config={"deny": [{"action": "dynamodb:PartiQLSelect"}]})
    try:
        agent = gw.issue("ddb-partiql")
        ddb = gw.client(agent, "dynamodb")
        table = f"tp{uuid.uuid4().hex[:8]}"
        make_table(ddb, table)
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "secret": {"S": "s3cr3t"}})
        for statement in (f"SELECT\u0301 x SELECT * FROM \"{table}\" WHERE pk = 'a'",
                          f"\r\nSELECT * FROM \"{table}\" WHERE pk = 'a'"):
            with pytest.raises(ClientError) as refused:
                ddb.batch_execute_statement(Statements=[{"Statement": statement}])
            assert "dynamodb:PartiQLSelect" in str(refused.value), refused.value
        denied = [e for e in gw.events() if e.get("type") == "call.denied" and e.get("operation") == "BatchExecuteStatement"]
        assert len(denied) == 2 and all("dynamodb:PartiQLSelect" in e["actions"] for e in denied), denied
    finally:
        gw.stop()
