package cosmosemu

import (
	"encoding/json"
)

// scanTop walks the members of a top-level JSON object without decoding it,
// calling visit with each key (raw, unescaped keys only) and the bytes of its value.
// It returns false when the body is not an object or a key contains an escape,
// in which case the caller decodes the whole body instead. The body must already
// be valid JSON (json.Valid), so the walk only needs to find value boundaries.
func scanTop(b []byte, visit func(key string, val []byte)) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) {
		if b[i] != '"' {
			return false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' {
				return false
			}
			j++
		}
		key := string(b[i+1 : j])
		i = skipWS(b, j+1)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		end := skipValue(b, i)
		if end < 0 {
			return false
		}
		visit(key, b[i:end])
		i = skipWS(b, end)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return true
		}
		if b[i] != ',' {
			return false
		}
		i = skipWS(b, i+1)
	}
	return false
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the offset just past the JSON value starting at i, or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				k := skipString(b, j)
				if k < 0 {
					return -1
				}
				j = k - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		return j
	}
}

// quickItem is the fast path of decodeItem for the common item: it finds the id
// and a single-segment partition key without decoding the body into a map. ok is
// false when anything needs the full decode (system properties or ttl present,
// nested partition key paths, unusual keys).
func quickItem(c *collection, body []byte) (id string, key string, ok bool) {
	id, key, _, ok = quickItemKeys(c, body)
	return id, key, ok
}

// quickItemKeys is quickItem, also reporting whether the body's top-level keys
// are distinct (document.distinct).
func quickItemKeys(c *collection, body []byte) (id string, key string, distinct bool, ok bool) {
	if len(c.paths) != 1 || len(c.paths[0]) != 1 || !json.Valid(body) {
		return "", "", false, false
	}
	pkName := c.paths[0][0]
	var idRaw, pkRaw []byte
	special := false
	var seen [maxDistinctKeys]string
	nkeys := 0
	distinct = true
	if !scanTop(body, func(k string, v []byte) {
		switch k {
		case "id":
			idRaw = v
		case "ttl", "_rid", "_self", "_etag", "_ts", "_attachments":
			special = true
		}
		if k == pkName {
			pkRaw = v
		}
		if distinct {
			distinct = addDistinct(&seen, &nkeys, k)
		}
	}) || special || idRaw == nil {
		return "", "", false, false
	}
	if err := json.Unmarshal(idRaw, &id); err != nil {
		return "", "", false, false
	}
	var pk any = undefinedPK
	if pkRaw != nil {
		if err := json.Unmarshal(pkRaw, &pk); err != nil {
			return "", "", false, false
		}
		if m, isMap := pk.(map[string]any); isMap && len(m) == 0 {
			pk = undefinedPK
		}
	}
	return id, pkKey([]any{pk}), distinct, true
}

// maxDistinctKeys bounds the keys checked for distinctness; an item with more
// is treated as possibly repeating one (decodeProps then reads it to the end).
const maxDistinctKeys = 32

func addDistinct(seen *[maxDistinctKeys]string, n *int, k string) bool {
	if *n == len(seen) {
		return false
	}
	for _, s := range seen[:*n] {
		if s == k {
			return false
		}
	}
	seen[*n] = k
	*n++
	return true
}

// topKeysDistinct reports whether the top-level keys of a JSON object are
// distinct, plain (no escapes) and at most maxDistinctKeys.
func topKeysDistinct(b []byte) bool {
	var seen [maxDistinctKeys]string
	n := 0
	distinct := true
	if !scanTop(b, func(k string, _ []byte) {
		if distinct {
			distinct = addDistinct(&seen, &n, k)
		}
	}) {
		return false
	}
	return distinct
}

// skipString returns the offset just past the JSON string starting at i, or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}
