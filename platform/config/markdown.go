package config

import (
	"fmt"
	"strings"
)

// Markdown renders the variable table of docs/configuration.md. The config test
// fails when the document's table differs, and rewrites it with -update.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| variable | service | default | description |\n|---|---|---|---|\n")
	for _, v := range Variables() {
		def := "(none)"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		desc := v.Description
		if v.Example != "" {
			desc += " Example: `" + v.Example + "`."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, v.Service, def, strings.ReplaceAll(desc, "|", `\|`))
	}
	return b.String()
}
