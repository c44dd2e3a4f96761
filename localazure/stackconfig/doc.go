// Package stackconfig reads localazure.json, the one file that describes the whole local
// Azure stack: identities, role assignments, seeded secrets, databases, blob
// containers, ports, and the Service Bus entities.
//
// The file has two top-level sections. "UserConfig" is exactly the Service Bus
// emulator's Config.json section, so the same file can be mounted into the official
// emulator container (which ignores the other section). "LocalAzure" is ours and is
// parsed strictly: an unknown field is an error, because a misspelt field silently
// ignored is a permission or a secret that silently is not there.
//
// Every validation error names the file, the field path and what to do about it, e.g.
//
//	localazure.json: LocalAzure.roleAssignments[2].role: "Key Vault Reader" is not a role the stand-ins know; use one of: ...
package stackconfig
