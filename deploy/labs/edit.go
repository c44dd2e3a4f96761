package labs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// editJSON applies one edit marker's operation to a JSON document: remove the array
// element at path, set the member at path to value, or merge value's members (an
// object's members without the braces, as the page shows them) into the object at
// path. A selector must match exactly one element, so a page that names an entry the
// file no longer has fails instead of editing nothing.
func editJSON(doc []byte, op, path string, value []byte) ([]byte, error) {
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("read the file: %w", err)
	}
	segs, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	parent, err := walk(root, segs[:len(segs)-1])
	if err != nil {
		return nil, err
	}
	obj, ok := parent.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: the parent of the last segment is not an object", path)
	}
	last := segs[len(segs)-1]
	switch op {
	case "remove":
		arr, i, err := selectElem(obj, last)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		obj[last.name] = append(arr[:i:i], arr[i+1:]...)
	case "set":
		if last.sel != nil {
			return nil, fmt.Errorf("%s: set takes a member, not an element", path)
		}
		v, err := decodeJSON(value)
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", value, err)
		}
		if _, ok := obj[last.name]; !ok {
			return nil, fmt.Errorf("%s: no such member to set", path)
		}
		obj[last.name] = v
	case "merge":
		target, err := walk(obj, segs[len(segs)-1:])
		if err != nil {
			return nil, err
		}
		t, ok := target.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not an object", path)
		}
		frag, err := decodeJSON([]byte("{" + string(value) + "}"))
		if err != nil {
			return nil, fmt.Errorf("the block is not an object's members: %w", err)
		}
		for k, v := range frag.(map[string]any) {
			t[k] = v
		}
	default:
		return nil, fmt.Errorf("unknown edit operation %q", op)
	}
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("write the file: %w", err)
	}
	return append(out, '\n'), nil
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep numbers as written
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// segment is one step of a path: a member name, and for an array member the
// fields that choose one element.
type segment struct {
	name string
	sel  map[string]string
}

// parsePath reads `a.b[k=v,k2=v2].c`; values may hold blanks and dots.
func parsePath(path string) ([]segment, error) {
	var segs []segment
	for rest := path; rest != ""; {
		var seg segment
		end := strings.IndexAny(rest, ".[")
		if end < 0 {
			end = len(rest)
		}
		seg.name, rest = rest[:end], rest[end:]
		if seg.name == "" {
			return nil, fmt.Errorf("path %q: empty member name", path)
		}
		if strings.HasPrefix(rest, "[") {
			closing := strings.IndexByte(rest, ']')
			if closing < 0 {
				return nil, fmt.Errorf("path %q: [ without ]", path)
			}
			seg.sel = map[string]string{}
			for _, kv := range strings.Split(rest[1:closing], ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("path %q: selector %q is not field=value", path, kv)
				}
				seg.sel[k] = v
			}
			rest = rest[closing+1:]
		}
		rest = strings.TrimPrefix(rest, ".")
		segs = append(segs, seg)
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("empty path")
	}
	return segs, nil
}

func walk(v any, segs []segment) (any, error) {
	for _, s := range segs {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not inside an object", s.name)
		}
		if s.sel == nil {
			if v, ok = obj[s.name]; !ok {
				return nil, fmt.Errorf("no member %q", s.name)
			}
			continue
		}
		arr, i, err := selectElem(obj, s)
		if err != nil {
			return nil, err
		}
		v = arr[i]
	}
	return v, nil
}

// selectElem finds the one element of obj[s.name] whose fields match s.sel.
func selectElem(obj map[string]any, s segment) ([]any, int, error) {
	arr, ok := obj[s.name].([]any)
	if !ok || s.sel == nil {
		return nil, 0, fmt.Errorf("%s is not an array chosen with [field=value]", s.name)
	}
	found := -1
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok || !matches(m, s.sel) {
			continue
		}
		if found >= 0 {
			return nil, 0, fmt.Errorf("%s%v matches more than one element", s.name, s.sel)
		}
		found = i
	}
	if found < 0 {
		return nil, 0, fmt.Errorf("%s%v matches no element", s.name, s.sel)
	}
	return arr, found, nil
}

func matches(m map[string]any, sel map[string]string) bool {
	for k, want := range sel {
		if got, ok := m[k]; !ok || fmt.Sprint(got) != want {
			return false
		}
	}
	return true
}
