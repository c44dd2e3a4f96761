package servicebusemu

import (
	"fmt"
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
)

// mgmtResult is a $management response.
type mgmtResult struct {
	status int
	desc   string
	cond   amqp.Symbol
	value  map[string]any
}

func mgmtErr(status int, cond amqp.Symbol, format string, args ...any) mgmtResult {
	return mgmtResult{status: status, cond: cond, desc: fmt.Sprintf(format, args...)}
}

// mgmtResponse answers a request on an entity's $management node.
func (h *connHandler) mgmtResponse(ref entityRef, req *amqp.Message) *amqp.Message {
	return mgmtResponseOf(h.manage(ref, req))
}

// changesState tells whether a $management operation may write data log
// records, so that its response must wait for them to be durable. Renewals,
// peeks and reads change nothing that is persisted (locks are not).
func changesState(req *amqp.Message) bool {
	op, _ := req.ApplicationProperties["operation"].(string)
	switch op {
	case "com.microsoft:update-disposition", "com.microsoft:set-session-state",
		"com.microsoft:schedule-message", "com.microsoft:cancel-scheduled-message",
		"com.microsoft:receive-by-sequence-number": // receive-and-delete removes
		return true
	}
	return false
}

func mgmtResponseOf(res mgmtResult) *amqp.Message {
	props := map[string]any{"statusCode": int32(res.status), "statusDescription": res.desc}
	if res.cond != "" {
		props["errorCondition"] = res.cond
	}
	resp := &amqp.Message{ApplicationProperties: props}
	if res.value != nil {
		resp.Value, resp.HasValue = res.value, true
	}
	return resp
}

func (h *connHandler) manage(ref entityRef, req *amqp.Message) mgmtResult {
	op, _ := req.ApplicationProperties["operation"].(string)
	body, _ := req.Value.(map[any]any)
	get := func(k string) any {
		if v, ok := body[k]; ok {
			return v
		}
		return body[amqp.Symbol(k)]
	}
	needListen := func() *mgmtResult {
		if ref.entity == nil {
			r := mgmtErr(400, amqp.ErrNotAllowed, "operation %s needs a queue or subscription", op)
			return &r
		}
		if e := h.authorize(rightListen, ref.path, ref.entity.scope); e != nil {
			r := mgmtErr(401, amqp.ErrUnauthorized, "%s", e.Description)
			return &r
		}
		return nil
	}
	switch op {
	case "com.microsoft:renew-lock":
		if r := needListen(); r != nil {
			return *r
		}
		tokens, ok := get("lock-tokens").([]amqp.UUID)
		if !ok {
			return mgmtErr(400, amqp.ErrInvalidField, "lock-tokens must be an array of uuid")
		}
		exps := make([]time.Time, 0, len(tokens))
		for _, t := range tokens {
			until, res := ref.entity.renew(t)
			if res != settled {
				return mgmtErr(410, "com.microsoft:message-lock-lost",
					"The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.")
			}
			exps = append(exps, until)
		}
		return mgmtResult{status: 200, desc: "OK", value: map[string]any{"expirations": exps}}

	case "com.microsoft:peek-message":
		if r := needListen(); r != nil {
			return *r
		}
		from := toInt64(get("from-sequence-number"))
		n := int(toInt64(get("message-count")))
		if n <= 0 {
			n = 1
		}
		msgs := ref.entity.peek(from, n)
		if len(msgs) == 0 {
			return mgmtResult{status: 204, desc: "No messages"}
		}
		list := make([]any, len(msgs))
		for i, m := range msgs {
			list[i] = map[string]any{"message": m}
		}
		return mgmtResult{status: 200, desc: "OK", value: map[string]any{"messages": list}}

	case "com.microsoft:receive-by-sequence-number":
		if r := needListen(); r != nil {
			return *r
		}
		seqs, ok := get("sequence-numbers").([]int64)
		if !ok {
			return mgmtErr(400, amqp.ErrInvalidField, "sequence-numbers must be an array of long")
		}
		peekLock := toInt64(get("receiver-settle-mode")) == 1
		msgs, tokens := ref.entity.receiveDeferred(seqs, peekLock)
		if len(msgs) < len(seqs) {
			return mgmtErr(404, "com.microsoft:message-not-found",
				"Failed to lock one or more specified messages. Either the message is not deferred or does not exist.")
		}
		list := make([]any, len(msgs))
		for i, m := range msgs {
			list[i] = map[string]any{"message": m, "lock-token": tokens[i]}
		}
		return mgmtResult{status: 200, desc: "OK", value: map[string]any{"messages": list}}

	case "com.microsoft:update-disposition":
		if r := needListen(); r != nil {
			return *r
		}
		tokens, ok := get("lock-tokens").([]amqp.UUID)
		if !ok {
			return mgmtErr(400, amqp.ErrInvalidField, "lock-tokens must be an array of uuid")
		}
		status, _ := get("disposition-status").(string)
		reason, _ := get("deadletter-reason").(string)
		desc, _ := get("deadletter-description").(string)
		props, _ := get("properties-to-modify").(map[any]any)
		for _, t := range tokens {
			var res settleResult
			switch status {
			case "completed":
				res = ref.entity.complete(t)
			case "abandoned":
				res = ref.entity.abandon(t, true, props)
			case "suspended":
				res = ref.entity.deadLetter(t, reason, desc)
			case "defered", "deferred":
				res = ref.entity.deferMsg(t, props)
			default:
				return mgmtErr(400, amqp.ErrInvalidField, "unknown disposition-status %q", status)
			}
			if res != settled {
				return mgmtErr(410, "com.microsoft:message-lock-lost",
					"The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.")
			}
		}
		return mgmtResult{status: 200, desc: "OK"}

	case "com.microsoft:renew-session-lock", "com.microsoft:get-session-state", "com.microsoft:set-session-state":
		if r := needListen(); r != nil {
			return *r
		}
		id, _ := get("session-id").(string)
		lost := mgmtErr(410, "com.microsoft:session-lock-lost",
			"The session lock has expired on the session '%s', or the session is not locked.", id)
		switch op {
		case "com.microsoft:renew-session-lock":
			until, ok := ref.entity.renewSession(id)
			if !ok {
				return lost
			}
			return mgmtResult{status: 200, desc: "OK", value: map[string]any{"expiration": until}}
		case "com.microsoft:get-session-state":
			state, ok := ref.entity.sessionState(id)
			if !ok {
				return lost
			}
			var v any
			if state != nil {
				v = state
			}
			return mgmtResult{status: 200, desc: "OK", value: map[string]any{"session-state": v}}
		default:
			state, _ := get("session-state").([]byte)
			if !ref.entity.setSessionState(id, state) {
				return lost
			}
			return mgmtResult{status: 200, desc: "OK"}
		}

	case "com.microsoft:get-message-sessions":
		if r := needListen(); r != nil {
			return *r
		}
		since, _ := get("last-updated-time").(time.Time)
		// A time in year 9999 or later asks for every session with messages.
		ids := ref.entity.messageSessions(since, since.Year() >= 9999)
		skip, top := int(toInt64(get("skip"))), int(toInt64(get("top")))
		if skip > len(ids) {
			skip = len(ids)
		}
		ids = ids[skip:]
		if top > 0 && top < len(ids) {
			ids = ids[:top]
		}
		if len(ids) == 0 {
			return mgmtResult{status: 204, desc: "No sessions"}
		}
		return mgmtResult{status: 200, desc: "OK", value: map[string]any{"skip": int32(skip + len(ids)), "sessions-ids": ids}}

	case "com.microsoft:schedule-message":
		if ref.queue == nil && ref.topic == nil {
			return mgmtErr(400, amqp.ErrNotAllowed, "messages can only be scheduled on queues and topics")
		}
		if e := h.authorize(rightSend, ref.path, ref.sendScope); e != nil {
			return mgmtErr(401, amqp.ErrUnauthorized, "%s", e.Description)
		}
		list, _ := get("messages").([]any)
		seqs := make([]int64, 0, len(list))
		now := time.Now()
		for _, it := range list {
			entry, _ := it.(map[any]any)
			raw, ok := entry["message"].([]byte)
			if !ok {
				raw, ok = entry[amqp.Symbol("message")].([]byte)
			}
			if !ok {
				return mgmtErr(400, amqp.ErrInvalidField, "each scheduled message needs 'message' as binary")
			}
			md, err := parseMessage(append([]byte(nil), raw...))
			if err != nil {
				return mgmtErr(400, amqp.ErrDecode, "%v", err)
			}
			if ref.queue != nil {
				ref.queue.mu.Lock()
				seq := ref.queue.enqueueLocked(md, now, -1, true)
				ref.queue.mu.Unlock()
				seqs = append(seqs, seq)
			} else {
				seqs = append(seqs, ref.topic.publish(md, now))
			}
		}
		return mgmtResult{status: 200, desc: "OK", value: map[string]any{"sequence-numbers": seqs}}

	case "com.microsoft:cancel-scheduled-message":
		if ref.queue == nil && ref.topic == nil {
			return mgmtErr(400, amqp.ErrNotAllowed, "scheduled messages live on queues and topics")
		}
		if e := h.authorize(rightSend, ref.path, ref.sendScope); e != nil {
			return mgmtErr(401, amqp.ErrUnauthorized, "%s", e.Description)
		}
		seqs, _ := get("sequence-numbers").([]int64)
		if ref.queue != nil {
			ref.queue.cancelScheduled(seqs)
		} else {
			ref.topic.cancelScheduled(seqs)
		}
		return mgmtResult{status: 200, desc: "OK"}
	}
	return mgmtErr(501, amqp.ErrNotImplemented, "operation %q is not supported by localazure's Service Bus", op)
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	}
	return 0
}
