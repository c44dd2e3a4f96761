package stackconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/contoso/orderflow/localazure/servicebusemu"
)

// Load reads, parses and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read local stack configuration: %w", err)
	}
	c, err := Parse(filepath.Base(path), data)
	if err != nil {
		return nil, err
	}
	c.Path = path
	return c, nil
}

// Parse parses and validates a configuration; name is used in error messages. Every
// problem found is reported, each as a *FieldError, joined.
func Parse(name string, data []byte) (*Config, error) {
	p := &problems{file: name}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		p.add("", "not valid JSON: %s", describeSyntax(data, err))
		return nil, p.err()
	}
	if dec.More() {
		p.add("", "not valid JSON: more than one value in the file; keep one object with UserConfig and LocalAzure")
		return nil, p.err()
	}
	top, ok := raw.(map[string]any)
	if !ok {
		p.add("", "the file must hold one JSON object with the sections UserConfig and LocalAzure")
		return nil, p.err()
	}
	for k := range top {
		if k != "UserConfig" && k != "LocalAzure" {
			p.add(k, "unknown top-level section; the file has UserConfig (the Service Bus emulator's Config.json section) and LocalAzure%s", suggest(k, []string{"UserConfig", "LocalAzure"}))
		}
	}
	if _, ok := top["LocalAzure"]; !ok {
		p.add("LocalAzure", "section is missing; add it (see localazure/README.md, \"The configuration file\")")
	}
	checkShape(p, reflect.TypeFor[servicebusemu.UserConfig](), top["UserConfig"], "UserConfig")
	checkShape(p, reflect.TypeFor[LocalAzure](), top["LocalAzure"], "LocalAzure")
	if len(p.errs) > 0 {
		return nil, p.err()
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		// checkShape has matched every key and type, so this is unexpected.
		p.add("", "%v", err)
		return nil, p.err()
	}
	validate(p, &c)
	if len(p.errs) > 0 {
		return nil, p.err()
	}
	return &c, nil
}

// checkShape walks the decoded JSON against the Go type, reporting unknown fields and
// wrong types with their full path. encoding/json matches keys case-insensitively and
// its errors carry no array index, so it cannot do this itself: "clientID" would be
// taken for "clientId" and a typo in a role name's key would go unnoticed.
func checkShape(p *problems, t reflect.Type, v any, path string) {
	if v == nil {
		return // null or absent: the zero value, which validation judges
	}
	if t == reflect.TypeFor[json.RawMessage]() {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkShape(p, t.Elem(), v, path)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			p.add(path, "must be an object, not %s", jsonKind(v))
			return
		}
		fields := map[string]reflect.StructField{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = f
			names = append(names, name)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fields[k]
			if !ok {
				p.add(path+"."+k, "unknown field%s; the fields here are: %s", suggest(k, names), strings.Join(names, ", "))
				continue
			}
			checkShape(p, f.Type, m[k], path+"."+k)
		}
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			p.add(path, "must be an array, not %s", jsonKind(v))
			return
		}
		for i, e := range a {
			checkShape(p, t.Elem(), e, fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			p.add(path, "must be an object, not %s", jsonKind(v))
			return
		}
		for k, e := range m {
			checkShape(p, t.Elem(), e, path+"."+k)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			p.add(path, "must be a string, not %s", jsonKind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			p.add(path, "must be true or false, not %s", jsonKind(v))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := v.(json.Number)
		if !ok {
			p.add(path, "must be a number, not %s", jsonKind(v))
			return
		}
		if _, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
			p.add(path, "must be a whole number, not %s", n)
		}
	}
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case string:
		return "the string " + strconv.Quote(x)
	case json.Number:
		return "the number " + x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// suggest returns `; did you mean "x"?` for the closest candidate, if one is close.
func suggest(got string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if strings.EqualFold(c, got) {
			return fmt.Sprintf(" (names are case-sensitive: did you mean %q?)", c)
		}
		if d := editDistance(strings.ToLower(got), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(2, len(best)/4) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describeSyntax turns a JSON syntax error into "line L, column C: ...".
func describeSyntax(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, se.Offset-1) // Offset is just past the bad byte
		return fmt.Sprintf("line %d, column %d: %v", line, col, se)
	}
	if errors.Is(err, io.EOF) {
		return "the file is empty"
	}
	return err.Error()
}

func position(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < offset && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
