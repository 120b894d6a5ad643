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
    # AWS's JSON services say AccessDeniedException (query and XML ones AccessDenied).
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException", refused.value.response
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


def test_a_body_tally_cannot_read_is_refused_when_it_decides_the_actions(moto, tmp_path):
    # Session 10 re-probe: a duplicate "Statement" (Tally's parser refuses duplicate keys, moto keeps the last) left the
    # body unread, so no PartiQL action was found and moto ran the INSERT past a PartiQLInsert deny; likewise a repeated
    # "family" hid an ECS task role from an iam:PassRole deny. Such bodies are now refused when they decide the actions.
    from test_gateway_guardrail_probe import signed
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret,
                 config={"deny": [{"action": "dynamodb:PartiQLInsert"}, {"action": "iam:PassRole"}]})
    try:
        agent = gw.issue("ddb-unreadable")
        ddb = gw.client(agent, "dynamodb")
        table = f"tu{uuid.uuid4().hex[:8]}"
        make_table(ddb, table)
        body = ('{"Statement": "SELECT * FROM \\"%s\\"", "Statement": "INSERT INTO \\"%s\\" VALUE {\'pk\': \'dup\'}"}'
                % (table, table))
        status, text = signed(gw, agent, "dynamodb", body, {"Content-Type": "application/x-amz-json-1.0",
                                                           "X-Amz-Target": "DynamoDB_20120810.ExecuteStatement"})
        assert status == 403 and "cannot identify exactly" in text and "could not be read" in text, (status, text)
        assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "dup"}})
        role = "arn:aws:iam::123456789012:role/task"
        body = '{"family": "a", "containerDefinitions": [], "taskRoleArn": "%s", "family": "b"}' % role
        status, text = signed(gw, agent, "ecs", body, {"Content-Type": "application/x-amz-json-1.1",
                                                      "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition"})
        assert status == 403 and "could not be read" in text, (status, text)
        # A readable body is checked as before (the INSERT meets the deny), and one without the member goes through.
        with pytest.raises(ClientError) as refused:
            ddb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': 'x'}}")
        assert "dynamodb:PartiQLInsert" in str(refused.value)
        ddb.execute_statement(Statement=f"SELECT * FROM \"{table}\"")
        refusals = [e for e in gw.events() if e.get("type") == "call.denied" and "could not be read" in e.get("reason", "")]
        assert {e["operation"] for e in refusals} == {"ExecuteStatement", "RegisterTaskDefinition"}, refusals
    finally:
        gw.stop()
