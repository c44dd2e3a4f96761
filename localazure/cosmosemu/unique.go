package cosmosemu

import (
	"strings"
)

// uniqueKeys parses a container's uniqueKeyPolicy into path segments per key.
func uniqueKeys(props map[string]any) [][][]string {
	pol, _ := props["uniqueKeyPolicy"].(map[string]any)
	keys, _ := pol["uniqueKeys"].([]any)
	var out [][][]string
	for _, k := range keys {
		km, _ := k.(map[string]any)
		paths, _ := km["paths"].([]any)
		var key [][]string
		for _, p := range paths {
			ps, _ := p.(string)
			if ps == "" {
				continue
			}
			key = append(key, strings.Split(strings.TrimPrefix(ps, "/"), "/"))
		}
		if len(key) > 0 {
			out = append(out, key)
		}
	}
	return out
}

// view enumerates the live items of one logical partition as a write would see them.
type view func(yield func(*document) bool)

func (s *Server) partitionView(c *collection, p *partition) view {
	return func(yield func(*document) bool) {
		for _, d := range p.docs {
			if s.live(c, d) != nil && !yield(d) {
				return
			}
		}
	}
}

// uniqueTuple renders the values of one unique key; a missing value counts as
// null, as in Cosmos (so only one item per partition may lack it).
func uniqueTuple(doc map[string]any, key [][]string) string {
	var b strings.Builder
	for _, path := range key {
		var cur any = doc
		for _, seg := range path {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[seg]
		}
		b.WriteString(pkKey([]any{cur}))
		b.WriteByte('|')
	}
	return b.String()
}

// uniqueTuples renders an item's values for each unique key of c (nil when c
// has none); documents keep theirs (document.uniq), so that a write compares
// strings instead of decoding every other item of the partition.
func uniqueTuples(c *collection, doc map[string]any) []string {
	if len(c.uniqueKeys) == 0 {
		return nil
	}
	out := make([]string, len(c.uniqueKeys))
	for i, key := range c.uniqueKeys {
		out[i] = uniqueTuple(doc, key)
	}
	return out
}

// checkUnique enforces the unique key policy within the item's logical partition:
// no other item (by id) may have the same values (tuples, from uniqueTuples) for
// any unique key.
func (s *Server) checkUnique(c *collection, tuples []string, id string, others view) *apiError {
	if len(c.uniqueKeys) == 0 {
		return nil
	}
	var conflict bool
	for i, want := range tuples {
		others(func(d *document) bool {
			if d.id != id && i < len(d.uniq) && d.uniq[i] == want {
				conflict = true
				return false
			}
			return true
		})
		if conflict {
			return &apiError{status: 409, message: "Unique index constraint violation. Learn more: https://aka.ms/cosmosdb-tsg-conflict"}
		}
	}
	return nil
}
