"""Service Bus through Python's azure-servicebus 7.8 over uamqp (the Azure uAMQP C
library), a second AMQP 1.0 stack next to go-amqp and the JavaScript SDK's rhea.

argv: auth ("sas" or "token") and transport ("amqps" or "websocket"). With "token"
the frontend's workload identity sends and the backend's receives, as in the app;
with "sas" one client with the namespace key does everything. Each step's result
(or its error) goes into one JSON object printed as the last line of stdout.
"""

import json
import os
import sys
import time
import traceback

from azure.core.credentials import AzureNamedKeyCredential
from azure.identity import ClientAssertionCredential
from azure.servicebus import (
    NEXT_AVAILABLE_SESSION,
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusSubQueue,
    TransportType,
)

auth, transport = sys.argv[1], sys.argv[2]
env = os.environ
run = f"{auth}-{transport}-{time.time_ns()}"
queue, sessions = env["ORDERS_QUEUE"], env["SESSION_QUEUE"]


def credential(prefix):
    if auth == "sas":
        return AzureNamedKeyCredential(env["SB_SAS_KEY_NAME"], env["SB_SAS_KEY"])
    token_file = env[prefix + "AZURE_FEDERATED_TOKEN_FILE"]

    def assertion():
        with open(token_file) as f:
            return f.read().strip()

    # WorkloadIdentityCredential is this with the token file; azure-identity 1.13
    # (Debian bookworm) predates it. The authority comes from AZURE_AUTHORITY_HOST:
    # this version fails on an authority keyword.
    return ClientAssertionCredential(env["AZURE_TENANT_ID"], env[prefix + "AZURE_CLIENT_ID"], assertion)


def client(prefix=""):
    # SERVICEBUS_NAMESPACE is host:port; the custom endpoint dials it, over TLS
    # (uamqp's AMQPS) or wss://host:port/$servicebus/websocket/.
    host, port = env["SERVICEBUS_NAMESPACE"].rsplit(":", 1)
    return ServiceBusClient(
        host,
        credential(prefix),
        transport_type=TransportType.AmqpOverWebsocket if transport == "websocket" else TransportType.Amqp,
        custom_endpoint_address=f"sb://{host}:{port}",
        connection_verify=env["SB_CA_FILE"],
        retry_total=0,
    )


def msg(n, **kw):
    return ServiceBusMessage(
        json.dumps({"run": run, "n": n}), message_id=f"{run}-{n}", subject="order",
        application_properties={"run": run, "n": n}, **kw
    )


def mine(m):
    props = m.application_properties or {}
    return props.get(b"run", props.get("run")) in (run, run.encode())


def n_of(m):
    return json.loads(str(m))["n"]


def receive_n(receiver, count, wait=5.0):
    """Receives until count messages of this run arrived; leftovers of other runs are completed away."""
    got, until = [], time.monotonic() + wait
    while len(got) < count and time.monotonic() < until:
        for m in receiver.receive_messages(max_message_count=count - len(got), max_wait_time=1):
            if mine(m):
                got.append(m)
            else:
                receiver.complete_message(m)
    return got


def brief(m):
    return {"n": n_of(m), "messageId": m.message_id, "deliveryCount": m.delivery_count, "seq": m.sequence_number,
            "sessionId": m.session_id}


out = {"run": run}


def step(name, fn):
    began = time.monotonic()
    try:
        out[name] = fn()
    except Exception as e:  # the report names the failing step; the test fails on it
        out[name] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc(limit=3)}
    out.setdefault("seconds", {})[name] = round(time.monotonic() - began, 2)


sender_side = client("")
receiver_side = client("BACKEND_") if auth == "token" else sender_side


def send():
    with sender_side.get_queue_sender(queue) as s:
        s.send_messages(msg(1))
        batch = s.create_message_batch()
        for n in (2, 3, 4):
            batch.add_message(msg(n))
        s.send_messages(batch)
        return {"batch": len(batch)}


def peek():
    with receiver_side.get_queue_receiver(queue) as r:
        return sorted(n_of(m) for m in r.peek_messages(max_message_count=50) if mine(m))


def settle():
    with receiver_side.get_queue_receiver(queue) as r:
        ms = receive_n(r, 4)
        res = {"received": sorted((brief(m) for m in ms), key=lambda b: b["n"])}
        for m in ms:
            n = n_of(m)
            if n in (1, 4):
                r.complete_message(m)
            elif n == 2:
                r.abandon_message(m)
            else:
                r.dead_letter_message(m, reason="bad-order", error_description="rejected by interop test")
        again = receive_n(r, 1)
        res["redelivered"] = [brief(m) for m in again]
        for m in again:
            r.complete_message(m)
    with receiver_side.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
        dead = receive_n(dlq, 1)
        res["deadLettered"] = [dict(brief(m), reason=m.dead_letter_reason, description=m.dead_letter_error_description)
                               for m in dead]
        for m in dead:
            dlq.complete_message(m)
    return res


def session_receive():
    # SAS only: the workloads' roles do not cover the session queue.
    with receiver_side.get_queue_sender(sessions) as s:
        s.send_messages([msg(20, session_id="s1"), msg(21, session_id="s2"), msg(22, session_id="s1")])
    res = {}
    with receiver_side.get_queue_receiver(sessions, session_id="s1", max_wait_time=5) as r:
        ms = receive_n(r, 2)
        res["named"] = {"sessionId": r.session.session_id, "messages": [brief(m) for m in ms]}
        for m in ms:
            r.complete_message(m)
    with receiver_side.get_queue_receiver(sessions, session_id=NEXT_AVAILABLE_SESSION, max_wait_time=5) as r:
        ms = receive_n(r, 1)
        res["next"] = {"sessionId": r.session.session_id, "messages": [brief(m) for m in ms]}
        for m in ms:
            r.complete_message(m)
    return res


step("send", send)
step("peek", peek)
step("settle", settle)
if auth == "sas":
    step("sessions", session_receive)
sender_side.close()
if receiver_side is not sender_side:
    receiver_side.close()
print(json.dumps(out, default=str))
