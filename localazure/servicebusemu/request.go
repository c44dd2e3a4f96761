package servicebusemu

import (
	"encoding/binary"

	"github.com/contoso/orderflow/localazure/amqp"
)

// The request-response nodes ($cbs and each entity's $management) follow the
// pattern of the AMQP Management and CBS drafts: the client sends a request on a
// link to the node and receives the response on a link from it.

const cbsNode = "$cbs"

// mgmtNode names an entity's management node.
func mgmtNode(ref entityRef) string { return ref.path + "/$management" }

// request answers a $cbs or $management request. The request is settled before
// the response is sent: clients such as Microsoft.Azure.Amqp's RequestResponseAmqpLink
// and proton-j based ones correlate the response with a request they have seen
// settled, and reject (or fail on) a response that overtakes its disposition.
func (h *connHandler) request(l *amqp.Link, st *linkState, d *amqp.Delivery) amqp.DeliveryState {
	var req amqp.Message
	if err := req.Unmarshal(d.Payload); err != nil {
		return decodeRejected(err)
	}
	d.SettleNow(&amqp.Accepted{})
	var resp *amqp.Message
	if st.kind == kindCBSRequest {
		resp = h.cbsResponse(&req)
	} else {
		resp = h.mgmtResponse(st.ref, &req)
		if p := h.b.persist; p != nil && changesState(&req) {
			// The response is the acknowledgement: it leaves once the records the
			// operation wrote are fsynced (from the committer, not blocking reads).
			p.afterSync(waiter{fn: func(err error) {
				if err != nil {
					resp = mgmtResponseOf(mgmtErr(500, amqp.ErrInternal, "the broker could not write its data log: %v", err))
				}
				h.reply(l, st.node, &req, resp)
			}})
			return nil
		}
	}
	h.reply(l, st.node, &req, resp)
	return nil
}

// reply sends a response to the requester: on the link named by the request's
// reply-to (the link whose target address, or failing that whose name, equals
// it), or, when the request has no reply-to or names no link, on the requester's
// receiving link from the same node on the same session, as clients that leave
// reply-to out (some AMQP management clients do) expect.
func (h *connHandler) reply(from *amqp.Link, node string, req, resp *amqp.Message) {
	replyTo := ""
	if req.Properties != nil {
		replyTo = req.Properties.ReplyTo
	}
	h.mu.Lock()
	l := h.replies[replyTo]
	if replyTo == "" || l == nil {
		l = nil
		// The latest such link: a client that re-attaches its reply link wants the new one.
		for i := len(h.replyLinks) - 1; i >= 0; i-- {
			c := h.replyLinks[i]
			if st, ok := c.Value.(*linkState); ok && st.node == node && c.SameSession(from) {
				l = c
				break
			}
		}
	}
	h.mu.Unlock()
	if l == nil {
		h.b.log.Debug("no reply link for request", "node", node, "reply-to", replyTo)
		return
	}
	if resp.Properties == nil {
		resp.Properties = &amqp.Properties{}
	}
	if req.Properties != nil {
		// Correlation by the request's message-id, or its correlation-id when it has none.
		resp.Properties.CorrelationID = req.Properties.MessageID
		if resp.Properties.CorrelationID == nil {
			resp.Properties.CorrelationID = req.Properties.CorrelationID
		}
	}
	payload, err := resp.AppendBinary(nil)
	if err != nil {
		h.b.log.Error("encoding a reply", "node", node, "err", err)
		return
	}
	tag := binary.BigEndian.AppendUint64(nil, h.tagSeq.Add(1))
	if err := l.Send(&amqp.OutDelivery{Tag: tag, Payload: payload, PreSettled: true}); err != nil {
		h.b.log.Debug("reply link went away", "node", node, "err", err)
	}
}
