// Package query implements the subset of the Azure Cosmos DB for NoSQL query
// language that the local Cosmos DB stand-in serves: a tokenizer, a
// recursive-descent parser producing an AST, and an evaluator over documents
// decoded by encoding/json (nil, bool, float64, string, []any, map[string]any).
//
// Cosmos semantics are kept where applications can observe them: the value
// "undefined" is distinct from null and propagates through operators, comparisons
// between different types are undefined (so WHERE drops the document), ORDER BY
// sorts across types in the order undefined < null < false < true < numbers <
// strings < arrays < objects, and syntax errors carry the character position
// (0-based) of the offending token, as the service reports them.
package query
