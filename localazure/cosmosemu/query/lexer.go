package query

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind classifies a token.
type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokNumber
	tokString
	tokParam
	tokOp // punctuation and operators, text in tok.text
)

// token is one lexeme with its byte offset in the query text.
type token struct {
	kind tokKind
	text string  // identifier/operator text, or the decoded string literal
	num  float64 // for tokNumber
	pos  int     // start offset
	end  int     // end offset (exclusive)
}

// keywords are reserved: they cannot be used as identifiers, as in Cosmos.
var keywords = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true,
	"ORDER": true, "BY": true, "ASC": true, "DESC": true, "TOP": true, "VALUE": true,
	"AS": true, "IN": true, "BETWEEN": true, "DISTINCT": true, "OFFSET": true, "LIMIT": true,
	"TRUE": true, "FALSE": true, "NULL": true, "UNDEFINED": true, "JOIN": true, "GROUP": true,
	"LIKE": true, "ESCAPE": true, "EXISTS": true, "ARRAY": true, "UDF": true,
}

// isKeyword reports whether t is the keyword kw (case-insensitive, as Cosmos).
func (t token) isKeyword(kw string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

func (t token) isOp(op string) bool { return t.kind == tokOp && t.text == op }

// lex splits src into tokens. It fails on characters no token can start with and
// on unterminated strings.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-': // line comment
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, text: src[i:j], pos: i, end: j})
			i = j
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(src[i:])
			if !unicode.IsLetter(r) {
				return nil, syntaxErr(src, i, i+n)
			}
			j := i + n
			for j < len(src) {
				if isIdentPart(src[j]) {
					j++
					continue
				}
				r, n := utf8.DecodeRuneInString(src[j:])
				if src[j] < utf8.RuneSelf || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
					break
				}
				j += n
			}
			toks = append(toks, token{kind: tokIdent, text: src[i:j], pos: i, end: j})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i
			if c == '0' && j+1 < len(src) && (src[j+1] == 'x' || src[j+1] == 'X') {
				j += 2
				for j < len(src) && isHex(src[j]) {
					j++
				}
				v, err := strconv.ParseUint(src[i+2:j], 16, 64)
				if err != nil {
					return nil, syntaxErr(src, i, j)
				}
				toks = append(toks, token{kind: tokNumber, num: float64(v), pos: i, end: j})
				i = j
				continue
			}
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j < len(src) && src[j] == '.' {
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			v, err := strconv.ParseFloat(src[i:j], 64)
			if err != nil {
				return nil, syntaxErr(src, i, j)
			}
			toks = append(toks, token{kind: tokNumber, num: v, pos: i, end: j})
			i = j
		case c == '\'' || c == '"':
			s, j, ok := lexString(src, i)
			if !ok {
				return nil, &Error{Pos: i, End: len(src), Code: "SC1001",
					Message: fmt.Sprintf("Syntax error, unterminated string literal at position %d.", i)}
			}
			toks = append(toks, token{kind: tokString, text: s, pos: i, end: j})
			i = j
		case c == '@':
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, syntaxErr(src, i, j)
			}
			toks = append(toks, token{kind: tokParam, text: src[i:j], pos: i, end: j})
			i = j
		default:
			op := ""
			for _, cand := range []string{"!=", "<>", "<=", ">=", "||", "??", "<<", ">>"} {
				if strings.HasPrefix(src[i:], cand) {
					op = cand
					break
				}
			}
			if op == "" {
				if !strings.ContainsRune("*,.[](){}:=<>+-/%?!&|^~", rune(c)) {
					return nil, syntaxErr(src, i, i+1)
				}
				op = src[i : i+1]
			}
			toks = append(toks, token{kind: tokOp, text: op, pos: i, end: i + len(op)})
			i += len(op)
		}
	}
	toks = append(toks, token{kind: tokEOF, pos: len(src), end: len(src)})
	return toks, nil
}

// lexString decodes a quoted literal starting at src[i] with JSON-like escapes.
func lexString(src string, i int) (string, int, bool) {
	q := src[i]
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == q:
			return b.String(), j + 1, true
		case c == '\\':
			if j+1 >= len(src) {
				return "", 0, false
			}
			e := src[j+1]
			j += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if j+4 > len(src) {
					return "", 0, false
				}
				v, err := strconv.ParseUint(src[j:j+4], 16, 32)
				if err != nil {
					return "", 0, false
				}
				b.WriteRune(rune(v))
				j += 4
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, false
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
