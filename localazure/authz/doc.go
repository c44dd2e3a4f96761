// Package authz is what every local stand-in shares to decide who is calling and
// what they may do: Entra access tokens are verified into a Principal, and a Policy
// of role assignments answers whether that principal holds a role at a scope.
//
// Scopes are slash-separated paths rooted at the service, and an assignment at a
// scope covers every scope below it, as Azure RBAC does:
//
//	keyvault                       keyvault/secrets/<name>
//	cosmos                         cosmos/dbs/<db>           cosmos/dbs/<db>/colls/<coll>
//	servicebus                     servicebus/<queue-or-topic>
//	                               servicebus/<topic>/subscriptions/<subscription>
//	storage                        storage/<container>
package authz
