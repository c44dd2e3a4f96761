// Package shellwords splits a command line into words as a POSIX shell does, without
// running one: localazure's --exec takes one string per command, and the lab runner
// reads its markers' arguments the same way.
package shellwords

import (
	"errors"
	"strings"
)

// Split splits s as a POSIX shell does for words and quotes (no expansion): 'single'
// and "double" quotes, and backslash escapes outside single quotes (inside double
// quotes only before " \ $ and `). So a Makefile or script can pass
// `--exec "backend=bin/backend --flag 'a b'"` without the launcher starting a shell,
// which would then receive the stop signal instead of the program.
func Split(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
