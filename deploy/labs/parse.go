package labs

import (
	"fmt"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/shellwords"
)

// Lab is one "## Lab" section of the page.
type Lab struct {
	Name  string // the heading, without "## "
	Line  int
	Steps []Step
}

// Step is a fenced block with the markers before it, or a standalone step marker.
// An `edit ... merge` marker carries the block whose members it adds.
type Step struct {
	Action *Marker
	Block  *Block
}

// Block is a fenced code block.
type Block struct {
	Lang string
	Code string
	Line int // the opening fence's
	Mods []Marker
}

// Marker is one `<!-- lab: KIND ARGS -->` comment.
type Marker struct {
	Kind string
	Args []string
	Line int
}

// isBlockKind says whether a marker applies to the next fenced block; the others
// (step markers) act where they stand.
func isBlockKind(kind string) bool {
	switch kind {
	case "background", "wait-for", "expect", "expect-re", "reject", "exit", "until", "timeout",
		"replace", "vars", "azure", "manual":
		return true
	}
	return false
}

const markerPrefix = "<!-- lab:"

// Parse reads the labs of a page. Markers it does not know, a block marker with no
// block after it, and a marker outside a lab are errors, so a typo cannot turn a
// check off.
func Parse(page string) ([]Lab, error) {
	p := parser{}
	lines := strings.Split(page, "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := lines[i]
		trim := strings.TrimSpace(line)
		switch {
		case p.inComment:
			p.inComment = !strings.Contains(trim, "-->")
		case strings.HasPrefix(trim, markerPrefix):
			if err := p.marker(trim, n); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
		case strings.HasPrefix(trim, "<!--") && !strings.Contains(trim, "-->"):
			p.inComment = true
		case strings.HasPrefix(trim, "```"):
			end, err := p.block(lines, i)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			i = end
		case strings.HasPrefix(line, "## "):
			if err := p.endLab(); err != nil {
				return nil, err
			}
			p.cur = nil // a section that is not a lab is not run
			if strings.HasPrefix(line, "## Lab") {
				p.labs = append(p.labs, Lab{Name: strings.TrimPrefix(line, "## "), Line: n})
				p.cur = &p.labs[len(p.labs)-1]
			}
		}
	}
	if err := p.endLab(); err != nil {
		return nil, err
	}
	return p.labs, nil
}

type parser struct {
	labs      []Lab
	cur       *Lab
	pending   []Marker // block markers waiting for their block
	merge     *Marker  // an edit ... merge waiting for its block
	inComment bool
}

func (p *parser) endLab() error {
	if len(p.pending) > 0 || p.merge != nil {
		m := p.merge
		if m == nil {
			m = &p.pending[0]
		}
		return fmt.Errorf("line %d: marker %q has no fenced block after it in its section", m.Line, m.Kind)
	}
	return nil
}

func (p *parser) marker(trim string, n int) error {
	body, ok := strings.CutSuffix(strings.TrimPrefix(trim, markerPrefix), "-->")
	if !ok {
		return fmt.Errorf("a lab marker must end on its line with -->")
	}
	words, err := shellwords.Split(body)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		return fmt.Errorf("empty lab marker")
	}
	m := Marker{Kind: words[0], Args: words[1:], Line: n}
	if p.cur == nil {
		return fmt.Errorf("marker %q outside a \"## Lab\" section", m.Kind)
	}
	if err := checkArgs(m); err != nil {
		return fmt.Errorf("marker %q: %w", m.Kind, err)
	}
	switch {
	case isBlockKind(m.Kind):
		p.pending = append(p.pending, m)
	case m.Kind == "edit" && m.Args[1] == "merge":
		p.merge = &m
	default: // a step marker: checkArgs refused unknown kinds
		p.cur.Steps = append(p.cur.Steps, Step{Action: &m})
	}
	return nil
}

// block reads the fence opening at lines[i] and returns the index of its closing line.
func (p *parser) block(lines []string, i int) (int, error) {
	open := lines[i]
	indent := len(open) - len(strings.TrimLeft(open, " "))
	b := &Block{Lang: strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(open), "`")), Line: i + 1}
	var code []string
	j := i + 1
	for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
		l := lines[j]
		if k := len(l) - len(strings.TrimLeft(l, " ")); k < indent {
			l = l[k:]
		} else {
			l = l[indent:]
		}
		code = append(code, l)
	}
	if j == len(lines) {
		return 0, fmt.Errorf("fenced block never closed")
	}
	b.Code = strings.Join(code, "\n") + "\n"
	if p.cur == nil {
		return j, nil
	}
	switch {
	case p.merge != nil:
		if len(p.pending) > 0 {
			return 0, fmt.Errorf("block markers before an edit ... merge block")
		}
		p.cur.Steps = append(p.cur.Steps, Step{Action: p.merge, Block: b})
		p.merge = nil
	case b.Lang == "sh":
		b.Mods, p.pending = p.pending, nil
		if err := checkBlock(b); err != nil {
			return 0, err
		}
		p.cur.Steps = append(p.cur.Steps, Step{Block: b})
	case len(p.pending) > 0:
		return 0, fmt.Errorf("marker %q before a %q block; only sh blocks run", p.pending[0].Kind, b.Lang)
	}
	return j, nil
}

// checkArgs checks each marker's argument count and durations when it is read.
func checkArgs(m Marker) error {
	want := map[string][2]int{ // min, max arguments
		"background": {0, 1}, "wait-for": {1, 2}, "expect": {1, 1}, "expect-re": {1, 1},
		"reject": {1, 1}, "exit": {1, 1}, "until": {1, 1}, "timeout": {1, 1}, "replace": {2, 3},
		"vars": {0, 0}, "azure": {0, 1}, "manual": {1, 1}, "stop": {0, 1}, "finish": {1, 2},
		"log": {1, 3}, "sleep": {1, 1}, "restore": {1, 1}, "edit": {3, 4}, "known-issue": {1, 1},
	}
	w, ok := want[m.Kind]
	if !ok {
		return fmt.Errorf("unknown lab marker")
	}
	if len(m.Args) < w[0] || len(m.Args) > w[1] {
		return fmt.Errorf("takes %d to %d arguments, got %q", w[0], w[1], m.Args)
	}
	var durs []string
	switch m.Kind {
	case "until", "timeout", "sleep":
		durs = m.Args[:1]
	case "wait-for", "finish":
		durs = m.Args[1:]
	case "exit":
		var n int
		if _, err := fmt.Sscan(m.Args[0], &n); err != nil {
			return fmt.Errorf("exit status %q: %w", m.Args[0], err)
		}
	case "edit":
		switch m.Args[1] {
		case "merge", "remove":
			if len(m.Args) != 3 {
				return fmt.Errorf("edit FILE %s PATH takes no value", m.Args[1])
			}
		case "set":
			if len(m.Args) != 4 {
				return fmt.Errorf("edit FILE set PATH VALUE needs the value")
			}
		default:
			return fmt.Errorf("unknown edit operation %q (merge, remove, set)", m.Args[1])
		}
	}
	for _, d := range durs {
		if _, err := time.ParseDuration(d); err != nil {
			return err
		}
	}
	return nil
}

// checkBlock refuses marker combinations that mean nothing.
func checkBlock(b *Block) error {
	bg := has(b.Mods, "background")
	for _, m := range b.Mods {
		switch {
		case m.Kind == "wait-for" && !bg:
			return fmt.Errorf("line %d: wait-for applies to a background block", m.Line)
		case (m.Kind == "until" || m.Kind == "timeout") && bg:
			return fmt.Errorf("line %d: %s applies to a foreground block", m.Line, m.Kind)
		}
	}
	return nil
}

func has(ms []Marker, kind string) bool {
	_, ok := find(ms, kind)
	return ok
}

func find(ms []Marker, kind string) (Marker, bool) {
	for _, m := range ms {
		if m.Kind == kind {
			return m, true
		}
	}
	return Marker{}, false
}
