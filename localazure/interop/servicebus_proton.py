"""Service Bus through Apache Qpid Proton (python3-qpid-proton, the proton-c
engine), a plain AMQP 1.0 client with nothing Service Bus specific: the script
does claims-based auth, settlement and management requests itself, as an
application on any AMQP stack would, following Service Bus's AMQP documentation.

argv: auth ("sas" or "token"). All links of a BlockingConnection share one
session, and the $cbs and $management requests carry no reply-to: the broker
answers on the receiving link from the same node on that session. Each step's
result (or its error) goes into one JSON object printed as the last line of stdout.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import traceback
import urllib.parse

from proton import Described, Message, SSLDomain, symbol
from proton.reactor import Filter
from proton.utils import BlockingConnection

auth = sys.argv[1]
env = os.environ
run = f"proton-{auth}-{time.time_ns()}"
queue, sessions = env["ORDERS_QUEUE"], env["SESSION_QUEUE"]
namespace = env["SERVICEBUS_NAMESPACE"]  # host:port of the AMQPS listener


def sas_token(resource):
    # The documented SAS format: HMAC-SHA256 over the URL-encoded resource and expiry.
    sr = urllib.parse.quote_plus(resource)
    se = str(int(time.time()) + 3600)
    sig = base64.b64encode(hmac.new(env["SB_SAS_KEY"].encode(), f"{sr}\n{se}".encode(), hashlib.sha256).digest())
    return f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote_plus(sig)}&se={se}&skn={env['SB_SAS_KEY_NAME']}"


def jwt(prefix):
    from azure.identity import ClientAssertionCredential

    token_file = env[prefix + "AZURE_FEDERATED_TOKEN_FILE"]

    def assertion():
        with open(token_file) as f:
            return f.read().strip()

    cred = ClientAssertionCredential(env["AZURE_TENANT_ID"], env[prefix + "AZURE_CLIENT_ID"], assertion)
    return cred.get_token("https://servicebus.azure.net/.default").token


def connect():
    ssl = SSLDomain(SSLDomain.MODE_CLIENT)
    ssl.set_trusted_ca_db(env["SB_CA_FILE"])
    # proton-c matches the peer name against DNS names only, not IP addresses:
    # check the certificate for "localhost", which it also names.
    ssl.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    return BlockingConnection(f"amqps://{namespace}", ssl_domain=ssl, sni="localhost", timeout=10,
                              allowed_mechs="ANONYMOUS")


def request(conn, node, msg):
    """Sends a request to a request-response node and returns the response, with no reply-to."""
    rcv = conn.create_receiver(node, credit=1)
    snd = conn.create_sender(node)
    msg.id = f"{run}-{node}-{time.time_ns()}"
    snd.send(msg)
    resp = rcv.receive(timeout=10)  # sent settled: nothing to accept
    snd.close()
    rcv.close()
    if resp.correlation_id != msg.id:
        raise RuntimeError(f"response correlated to {resp.correlation_id!r}, want {msg.id!r}")
    return resp


def put_token(conn, entity, prefix=""):
    audience = f"sb://{namespace.split(':')[0]}/{entity}"
    token, typ = (sas_token(audience), "servicebus.windows.net:sastoken") if auth == "sas" else (jwt(prefix), "jwt")
    resp = request(conn, "$cbs", Message(body=token, properties={
        "operation": "put-token", "type": typ, "name": audience}))
    return resp.properties["status-code"]


def msg(n, **kw):
    return Message(body=json.dumps({"run": run, "n": n}), id=f"{run}-{n}", properties={"run": run, "n": n}, **kw)


def mine(m):
    return (m.properties or {}).get("run") == run


out = {"run": run}


def step(name, fn):
    try:
        out[name] = fn()
    except Exception as e:  # the report names the failing step; the test fails on it
        out[name] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}


def send():
    conn = connect()
    try:
        status = put_token(conn, queue)
        snd = conn.create_sender(queue)
        for n in (1, 2):
            snd.send(msg(n))  # returns once the broker's disposition settled it
        return {"putToken": status, "sent": 2}
    finally:
        conn.close()


def receive():
    conn = connect()
    try:
        res = {"putToken": put_token(conn, queue, "BACKEND_")}
        peek = request(conn, f"{queue}/$management", Message(
            body={"from-sequence-number": 1, "message-count": 100},
            properties={"operation": "com.microsoft:peek-message"}))
        res["peekStatus"] = peek.properties["statusCode"]
        res["peeked"] = 0
        if peek.properties["statusCode"] == 200:
            for entry in peek.body["messages"]:
                m = Message()
                m.decode(entry["message"])
                res["peeked"] += mine(m)
        rcv = conn.create_receiver(queue, credit=10)
        got = []
        until = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < until:
            m = rcv.receive(timeout=5)
            if mine(m):
                got.append(json.loads(m.body)["n"])
                rcv.accept()  # settled accepted: Service Bus completes the message
            else:
                rcv.accept()
        res["completed"] = sorted(got)
        rcv.close()
        return res
    finally:
        conn.close()


def session_receive():
    conn = connect()
    try:
        put_token(conn, sessions)
        snd = conn.create_sender(sessions)
        snd.send(msg(30, group_id="p2"))
        snd.send(msg(31, group_id="p1"))
        # The session id as a described value with the symbol as descriptor.
        f = Filter({symbol("com.microsoft:session-filter"): Described(symbol("com.microsoft:session-filter"), "p1")})
        rcv = conn.create_receiver(sessions, credit=10, options=f)
        m = rcv.receive(timeout=5)
        rcv.accept()
        named = {"n": json.loads(m.body)["n"], "sessionId": m.group_id}
        # The attach's answer names the locked session, spelled as asked.
        answer = rcv.link.remote_source.filter
        answer.rewind()
        answer.next()
        value = answer.get_object().get(symbol("com.microsoft:session-filter"))
        rcv.close()
        return {"named": named, "answered": value.value if isinstance(value, Described) else repr(value)}
    finally:
        conn.close()


step("send", send)
step("receive", receive)
if auth == "sas":
    step("sessions", session_receive)
print(json.dumps(out, default=str))
