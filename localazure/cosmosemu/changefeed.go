package cosmosemu

import (
	"bytes"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// changeFeed serves GET .../docs with "A-IM: Incremental feed": the latest version
// of every item changed after a position, in the order of the changes. The
// position is the container's sequence number, handed out as the response ETag
// and sent back in If-None-Match, as the service does; "*" means "from now" and
// If-Modified-Since starts from a point in time. With no changes the answer is 304.
// Deletes do not appear (the "latest version" mode); all-versions-and-deletes mode
// is refused.
func (s *Server) changeFeed(q *request, c *collection, aim string) *apiError {
	if !strings.EqualFold(aim, "Incremental feed") {
		return errBadRequest("The change feed mode '" + aim + "' is not supported by the local Cosmos DB stand-in; only 'Incremental feed' (latest version) is.")
	}
	// Read the current position before collecting: every write numbered up to it
	// is already visible to the snapshot (writes are numbered under their
	// partition's lock), so nothing at or below it can be missed later.
	cur := c.lsn.Load()
	var start uint64
	var since int64 = -1
	switch inm := q.r.Header.Get("If-None-Match"); {
	case inm == "*":
		start = cur
	case inm != "":
		n, err := strconv.ParseUint(strings.Trim(inm, `"`), 10, 64)
		if err != nil {
			return errBadRequest("The change feed continuation (If-None-Match) '" + inm + "' is invalid.")
		}
		start = n
	default:
		if ims := q.r.Header.Get("If-Modified-Since"); ims != "" {
			t, err := http.ParseTime(ims)
			if err != nil {
				return errBadRequest("The If-Modified-Since header '" + ims + "' is not a valid date.")
			}
			since = t.Unix()
		}
	}
	docs, e := s.scope(q, c)
	if e != nil {
		return e
	}
	changed := docs[:0]
	for _, d := range docs {
		if d.lsn > start && d.lsn <= cur && d.ts >= since {
			changed = append(changed, d)
		}
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].lsn < changed[j].lsn })
	max := defaultPageSize
	if v := q.r.Header.Get("x-ms-max-item-count"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			max = n
		} else if n == -1 {
			max = 0
		}
	}
	h := q.w.Header()
	h[hSession] = []string{sessionToken(c)}
	if len(changed) == 0 {
		h[hETag] = []string{`"` + strconv.FormatUint(cur, 10) + `"`}
		h[hItemCount] = []string{"0"}
		s.writeJSON(q, http.StatusNotModified, "1", nil)
		return nil
	}
	next := cur
	if max > 0 && len(changed) > max {
		changed = changed[:max]
		next = changed[max-1].lsn
	}
	var b bytes.Buffer
	b.WriteString(`{"_rid":"` + c.rid + `","Documents":[`)
	for i, d := range changed {
		if i > 0 {
			b.WriteByte(',')
		}
		// Change feed items carry their _lsn; splice it in before the closing brace.
		b.Write(d.raw[:len(d.raw)-1])
		b.WriteString(`,"_lsn":`)
		b.WriteString(strconv.FormatUint(d.lsn, 10))
		b.WriteByte('}')
	}
	b.WriteString(`],"_count":` + strconv.Itoa(len(changed)) + `}`)
	h[hETag] = []string{`"` + strconv.FormatUint(next, 10) + `"`}
	h[hItemCount] = []string{strconv.Itoa(len(changed))}
	s.writeJSON(q, http.StatusOK, strconv.FormatFloat(2+float64(len(changed))*0.1, 'f', 2, 64), b.Bytes())
	return nil
}
