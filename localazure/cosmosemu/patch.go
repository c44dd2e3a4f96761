package cosmosemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/contoso/orderflow/localazure/cosmosemu/query"
)

// maxPatchOps is the service's limit on operations in one patch.
const maxPatchOps = 10

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from"`
	Value json.RawMessage `json:"value"`
}

type patchBody struct {
	Condition  string    `json:"condition"`
	Operations []patchOp `json:"operations"`
}

// UnmarshalJSON accepts both forms the gateway takes: {"condition", "operations"}
// (Go, .NET, Java) and a bare array of operations, which the JavaScript SDK sends
// when item.patch is given an array.
func (pb *patchBody) UnmarshalJSON(b []byte) error {
	if t := strings.TrimLeft(string(b), " \t\r\n"); strings.HasPrefix(t, "[") {
		pb.Condition = ""
		return json.Unmarshal(b, &pb.Operations)
	}
	type plain patchBody
	return json.Unmarshal(b, (*plain)(pb))
}

// patch applies a partial update (PATCH .../docs/{id}) atomically.
func (s *Server) patch(q *request, c *collection, key, id string) *apiError {
	body, e := readBody(q.r)
	if e != nil {
		return e
	}
	var pb patchBody
	if err := json.Unmarshal(body, &pb); err != nil {
		return errBadRequest("The patch request payload is invalid: " + err.Error())
	}
	p := c.partitionFor(key, false)
	if p == nil {
		return errDocNotFound()
	}
	prev, e := s.lockLiveItem(c, p, id, q.r.Header.Get("If-Match"))
	if e != nil {
		return e
	}
	d, e := s.applyPatch(c, prev, pb)
	if e == nil {
		e = s.checkUnique(c, d.uniq, id, s.partitionView(c, p))
	}
	if e != nil {
		p.mu.Unlock()
		return e
	}
	p.put(c, d)
	ticket := s.journalOps(c, putOp(d))
	p.mu.Unlock()
	if e := s.durable(ticket); e != nil {
		return e
	}
	s.writeItem(q, c, http.StatusOK, d, writeCharge(len(d.raw)))
	return nil
}

// applyPatch returns the patched version of prev without modifying it.
func (s *Server) applyPatch(c *collection, prev *document, pb patchBody) (*document, *apiError) {
	if len(pb.Operations) == 0 {
		return nil, errBadRequest("Patch request has no operations.")
	}
	if len(pb.Operations) > maxPatchOps {
		return nil, errBadRequest(fmt.Sprintf("The number of patch operations (%d) exceeds the maximum of %d.", len(pb.Operations), maxPatchOps))
	}
	if pb.Condition != "" {
		ok, e := conditionHolds(pb.Condition, prev.value())
		if e != nil {
			return nil, e
		}
		if !ok {
			return nil, errPrecondition()
		}
	}
	// A fresh decode of the stored JSON is the cheapest deep copy.
	m := prev.value()
	if m == nil {
		return nil, &apiError{status: 500, message: "stored document is corrupt"}
	}
	for _, k := range systemProps {
		delete(m, k)
	}
	for i, op := range pb.Operations {
		if e := applyOp(m, op); e != nil {
			e.message = fmt.Sprintf("Patch operation %d (%s %s) failed: %s", i, op.Op, op.Path, e.message)
			return nil, e
		}
	}
	if id, _ := m["id"].(string); id != prev.id {
		return nil, errBadRequest("Patch operations may not change the id of an item.")
	}
	if pkKey(c.pkValues(m)) != prev.pk {
		return nil, errBadRequest("Patch operations may not change the partition key of an item. Learn more: https://aka.ms/CosmosDB/sql/errors/wrong-pk-value")
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, errBadRequest("The patched document cannot be encoded: " + err.Error())
	}
	return s.build(c, m, body, prev.id, prev.pk, prev, true), nil
}

// conditionHolds evaluates a patch condition ("FROM c WHERE ...") on the item.
func conditionHolds(cond string, doc map[string]any) (bool, *apiError) {
	const prefix = "SELECT * "
	pq, err := query.Parse(prefix + cond)
	if err != nil {
		if qe, ok := err.(*query.Error); ok {
			qe.Pos -= len(prefix)
			qe.End -= len(prefix)
			return false, queryError(qe)
		}
		return false, errBadRequest(err.Error())
	}
	rows, err := pq.Run([]query.Doc{{Val: doc}}, nil)
	if err != nil {
		return false, errBadRequest(err.Error())
	}
	return len(rows) == 1, nil
}

// splitPointer parses a JSON-pointer-like patch path ("/a/b/0").
func splitPointer(path string) ([]string, *apiError) {
	if !strings.HasPrefix(path, "/") || len(path) < 2 {
		return nil, errBadRequest(fmt.Sprintf("the path '%s' is invalid: it must start with '/' and name a property.", path))
	}
	segs := strings.Split(path[1:], "/")
	for i, s := range segs {
		if s == "" {
			return nil, errBadRequest(fmt.Sprintf("the path '%s' has an empty segment.", path))
		}
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs, nil
}

// resolveParent walks to the container holding the last segment.
func resolveParent(root map[string]any, segs []string, path string) (any, *apiError) {
	var cur any = root
	for _, seg := range segs[:len(segs)-1] {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[seg]
			if !ok {
				return nil, errBadRequest(fmt.Sprintf("the path '%s' does not exist in the document.", path))
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, errBadRequest(fmt.Sprintf("the array index in path '%s' is out of range.", path))
			}
			cur = x[i]
		default:
			return nil, errBadRequest(fmt.Sprintf("the path '%s' goes through a value that is neither an object nor an array.", path))
		}
	}
	return cur, nil
}

// setIn stores v at the path segs; arrays are written back through their holder
// because an insertion or removal makes a new slice.
func setIn(root map[string]any, segs []string, v any) {
	holder, _ := resolveParent(root, segs, "")
	last := segs[len(segs)-1]
	switch h := holder.(type) {
	case map[string]any:
		h[last] = v
	case []any:
		i, _ := strconv.Atoi(last)
		h[i] = v
	}
}

func applyOp(root map[string]any, op patchOp) *apiError {
	segs, e := splitPointer(op.Path)
	if e != nil {
		return e
	}
	var val any
	switch op.Op {
	case "add", "set", "replace", "incr":
		if len(op.Value) == 0 {
			return errBadRequest("the operation needs a value.")
		}
		if err := json.Unmarshal(op.Value, &val); err != nil {
			return errBadRequest("the value is not valid JSON.")
		}
	case "remove":
	case "move":
		fromSegs, e := splitPointer(op.From)
		if e != nil {
			return e
		}
		if strings.HasPrefix(op.Path+"/", op.From+"/") {
			return errBadRequest("the 'from' path may not be a prefix of the target path.")
		}
		v, e := removeAt(root, fromSegs, op.From)
		if e != nil {
			return e
		}
		return insertAt(root, segs, op.Path, v, "set")
	default:
		return errBadRequest(fmt.Sprintf("the operation type '%s' is not one of add, set, replace, remove, incr, move.", op.Op))
	}
	switch op.Op {
	case "remove":
		_, e := removeAt(root, segs, op.Path)
		return e
	case "incr":
		inc, ok := val.(float64)
		if !ok {
			return errBadRequest("incr needs a numeric value.")
		}
		parent, e := resolveParent(root, segs, op.Path)
		if e != nil {
			return e
		}
		last := segs[len(segs)-1]
		switch x := parent.(type) {
		case map[string]any:
			cur, ok := x[last]
			if !ok {
				x[last] = inc
				return nil
			}
			f, ok := cur.(float64)
			if !ok {
				return errBadRequest(fmt.Sprintf("incr target '%s' is not a number.", op.Path))
			}
			x[last] = f + inc
			return nil
		case []any:
			i, err := strconv.Atoi(last)
			if err != nil || i < 0 || i >= len(x) {
				return errBadRequest("the array index is out of range.")
			}
			f, ok := x[i].(float64)
			if !ok {
				return errBadRequest(fmt.Sprintf("incr target '%s' is not a number.", op.Path))
			}
			x[i] = f + inc
			return nil
		}
		return errBadRequest(fmt.Sprintf("the parent of '%s' is neither an object nor an array.", op.Path))
	}
	return insertAt(root, segs, op.Path, val, op.Op)
}

// insertAt implements add, set and replace at a path.
func insertAt(root map[string]any, segs []string, path string, val any, op string) *apiError {
	parent, e := resolveParent(root, segs, path)
	if e != nil {
		return e
	}
	last := segs[len(segs)-1]
	switch x := parent.(type) {
	case map[string]any:
		if _, exists := x[last]; !exists && op == "replace" {
			return errBadRequest(fmt.Sprintf("the path '%s' does not exist in the document.", path))
		}
		x[last] = val
		return nil
	case []any:
		i := len(x)
		if last != "-" {
			n, err := strconv.Atoi(last)
			if err != nil || n < 0 || n > len(x) {
				return errBadRequest(fmt.Sprintf("the array index in path '%s' is out of range.", path))
			}
			i = n
		}
		var out []any
		switch {
		case op == "add" || i == len(x):
			if op == "replace" {
				return errBadRequest(fmt.Sprintf("the array index in path '%s' is out of range.", path))
			}
			out = append(append(append(make([]any, 0, len(x)+1), x[:i]...), val), x[i:]...)
		default: // set and replace overwrite an existing element
			out = append([]any{}, x...)
			out[i] = val
		}
		setIn(root, segs[:len(segs)-1], out)
		return nil
	}
	return errBadRequest(fmt.Sprintf("the parent of '%s' is neither an object nor an array.", path))
}

// removeAt deletes and returns the value at a path, which must exist.
func removeAt(root map[string]any, segs []string, path string) (any, *apiError) {
	parent, e := resolveParent(root, segs, path)
	if e != nil {
		return nil, e
	}
	last := segs[len(segs)-1]
	switch x := parent.(type) {
	case map[string]any:
		v, ok := x[last]
		if !ok {
			return nil, errBadRequest(fmt.Sprintf("the path '%s' does not exist in the document.", path))
		}
		delete(x, last)
		return v, nil
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(x) {
			return nil, errBadRequest(fmt.Sprintf("the array index in path '%s' is out of range.", path))
		}
		v := x[i]
		out := append(append(make([]any, 0, len(x)-1), x[:i]...), x[i+1:]...)
		setIn(root, segs[:len(segs)-1], out)
		return v, nil
	}
	return nil, errBadRequest(fmt.Sprintf("the parent of '%s' is neither an object nor an array.", path))
}
