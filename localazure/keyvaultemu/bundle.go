package keyvaultemu

import "time"

// attributesJSON are a secret's attributes as Key Vault serialises them (Unix seconds).
type attributesJSON struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoverableDays int    `json:"recoverableDays"`
	RecoveryLevel   string `json:"recoveryLevel"`
}

// bundleJSON is a secret bundle, a list item or a deleted secret bundle: fields that
// do not apply are left out, as the service leaves them out.
type bundleJSON struct {
	Value              *string           `json:"value,omitempty"`
	ContentType        string            `json:"contentType,omitempty"`
	ID                 string            `json:"id"`
	Attributes         attributesJSON    `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
}

type listJSON struct {
	Value    []bundleJSON `json:"value"`
	NextLink *string      `json:"nextLink"`
}

func attributesOf(v *version) attributesJSON {
	return attributesJSON{Enabled: v.enabled, NotBefore: v.nbf, Expires: v.exp, Created: v.created, Updated: v.updated,
		RecoverableDays: recoverableDays, RecoveryLevel: "Recoverable+Purgeable"}
}

// bundle renders a version; withValue says whether the value is part of the answer
// (GET and PUT return it, PATCH, list and delete do not).
func (s *Server) bundle(name string, v *version, withValue bool) bundleJSON {
	b := bundleJSON{ContentType: v.contentType, ID: s.base + "/secrets/" + name + "/" + v.id, Attributes: attributesOf(v), Tags: v.tags}
	if withValue {
		val := v.value
		b.Value = &val
	}
	return b
}

func (s *Server) deletedBundle(name string, v *version, deleted int64, withID bool) bundleJSON {
	b := s.bundle(name, v, false)
	if !withID { // deleted list items name the secret, not a version
		b.ID = s.base + "/secrets/" + name
	}
	b.RecoveryID = s.base + "/deletedsecrets/" + name
	b.DeletedDate = deleted
	b.ScheduledPurgeDate = time.Unix(deleted, 0).AddDate(0, 0, recoverableDays).Unix()
	return b
}
