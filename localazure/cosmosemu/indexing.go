package cosmosemu

import (
	"strings"

	"github.com/contoso/orderflow/localazure/cosmosemu/query"
)

// indexingPolicyWith is the default consistent policy plus composite indexes given
// as "/path [ASC|DESC]" strings.
func indexingPolicyWith(composites [][]string) map[string]any {
	var comps []any
	for _, ci := range composites {
		var entries []any
		for _, p := range ci {
			path, dir, _ := strings.Cut(strings.TrimSpace(p), " ")
			order := "ascending"
			if strings.EqualFold(strings.TrimSpace(dir), "DESC") {
				order = "descending"
			}
			entries = append(entries, map[string]any{"path": path, "order": order})
		}
		comps = append(comps, entries)
	}
	return map[string]any{"indexingMode": "consistent", "automatic": true,
		"includedPaths":    []any{map[string]any{"path": "/*"}},
		"excludedPaths":    []any{map[string]any{"path": "/\"_etag\"/?"}},
		"compositeIndexes": comps}
}

// hasCompositeIndex reports whether the container's indexing policy has a composite
// index serving the query's ORDER BY: the same paths in the same order, with every
// direction equal or every direction reversed, as Cosmos requires.
func (c *collection) hasCompositeIndex(q *query.Query) bool {
	paths, desc, ok := q.OrderByPaths()
	if !ok {
		return false
	}
	c.db.mu.RLock()
	pol, _ := c.props["indexingPolicy"].(map[string]any)
	comps, _ := pol["compositeIndexes"].([]any)
	c.db.mu.RUnlock()
	for _, ci := range comps {
		entries, _ := ci.([]any)
		if len(entries) != len(paths) {
			continue
		}
		same, reversed := true, true
		for i, en := range entries {
			m, _ := en.(map[string]any)
			p, _ := m["path"].(string)
			order, _ := m["order"].(string)
			if p != paths[i] {
				same, reversed = false, false
				break
			}
			isDesc := strings.EqualFold(order, "descending")
			if isDesc != desc[i] {
				same = false
			} else {
				reversed = false
			}
		}
		if same || reversed {
			return true
		}
	}
	return false
}
