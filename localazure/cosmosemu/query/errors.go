package query

import "fmt"

// Error is a query compilation error located in the query text, shaped like the
// entries of the "errors" array Cosmos DB returns for a bad query.
type Error struct {
	Pos, End int    // 0-based character offsets of the offending text
	Code     string // Cosmos error code, e.g. SC1001 (syntax) or SC2001 (unresolved identifier)
	Message  string
}

func (e *Error) Error() string { return e.Message }

// syntaxErr builds the SC1001 error Cosmos gives for an unexpected token, naming the
// position so that a reader can find it without counting characters.
func syntaxErr(src string, pos, end int) *Error {
	near := "end of input"
	if pos < len(src) {
		if end > len(src) {
			end = len(src)
		}
		near = src[pos:end]
	}
	return &Error{Pos: pos, End: end, Code: "SC1001",
		Message: fmt.Sprintf("Syntax error, incorrect syntax near '%s' at position %d.", near, pos)}
}
