package blobgate

import (
	"net/url"
	"testing"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		method, target string
		want           access
		scope          string
	}{
		// Account level.
		{"GET", "/devstoreaccount1/?comp=list", accessRead, "storage"},
		{"GET", "/devstoreaccount1?comp=list&include=metadata", accessRead, "storage"},
		{"GET", "/devstoreaccount1/?restype=service&comp=properties", accessRead, "storage"},
		{"PUT", "/devstoreaccount1/?restype=service&comp=properties", accessOwner, "storage"},
		{"GET", "/devstoreaccount1/?restype=service&comp=stats", accessRead, "storage"},
		{"POST", "/devstoreaccount1/?restype=service&comp=userdelegationkey", accessRead, "storage"},
		{"GET", "/devstoreaccount1/?comp=blobs&where=x", accessOwner, "storage"},
		{"POST", "/devstoreaccount1/?comp=batch", accessDelete, "storage"},
		{"HEAD", "/devstoreaccount1/?restype=account&comp=properties", accessRead, "storage"},
		// Container level.
		{"PUT", "/devstoreaccount1/receipts?restype=container", accessWrite, "storage/receipts"},
		{"GET", "/devstoreaccount1/receipts?restype=container", accessRead, "storage/receipts"},
		{"HEAD", "/devstoreaccount1/receipts?restype=container", accessRead, "storage/receipts"},
		{"DELETE", "/devstoreaccount1/receipts?restype=container", accessDelete, "storage/receipts"},
		{"GET", "/devstoreaccount1/receipts?restype=container&comp=list", accessRead, "storage/receipts"},
		{"GET", "/devstoreaccount1/receipts?restype=container&comp=metadata", accessRead, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts?restype=container&comp=metadata", accessWrite, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts?restype=container&comp=lease", accessWrite, "storage/receipts"},
		{"GET", "/devstoreaccount1/receipts?restype=container&comp=acl", accessOwner, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts?restype=container&comp=acl", accessOwner, "storage/receipts"},
		{"POST", "/devstoreaccount1/receipts?restype=container&comp=batch", accessDelete, "storage/receipts"},
		{"GET", "/devstoreaccount1/receipts?restype=container&comp=blobs&where=x", accessOwner, "storage/receipts"},
		{"GET", "/devstoreaccount1/receipts?restype=account&comp=properties", accessRead, "storage/receipts"},
		{"GET", "/devstoreaccount1/RECEIPTS?RESTYPE=CONTAINER", accessRead, "storage/RECEIPTS"},
		// Blob level.
		{"PUT", "/devstoreaccount1/receipts/o-1.json", accessWrite, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts/a/b/c.pdf?comp=block&blockid=AAAA", accessWrite, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts/o-1.json?comp=blocklist", accessWrite, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts/o-1.json?comp=metadata", accessWrite, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts/o-1.json?comp=lease", accessWrite, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts/o-1.json?comp=snapshot", accessWrite, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts/o-1.json?comp=appendblock", accessWrite, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts/o-1.json?comp=page", accessWrite, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts/o-1.json?comp=properties", accessWrite, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts/o-1.json?comp=tier", accessWrite, "storage/receipts"},
		{"GET", "/devstoreaccount1/receipts/o-1.json", accessRead, "storage/receipts"},
		{"HEAD", "/devstoreaccount1/receipts/o-1.json", accessRead, "storage/receipts"},
		{"GET", "/devstoreaccount1/receipts/o-1.json?comp=blocklist&blocklisttype=all", accessRead, "storage/receipts"},
		{"GET", "/devstoreaccount1/receipts/o-1.json?comp=metadata", accessRead, "storage/receipts"},
		{"POST", "/devstoreaccount1/receipts/o-1.json?comp=query", accessRead, "storage/receipts"},
		{"DELETE", "/devstoreaccount1/receipts/o-1.json", accessDelete, "storage/receipts"},
		{"DELETE", "/devstoreaccount1/receipts/o-1.json?snapshot=2026-01-01T00:00:00.0000000Z", accessDelete, "storage/receipts"},
		{"GET", "/devstoreaccount1/receipts/o-1.json?comp=tags", accessOwner, "storage/receipts"},
		{"PUT", "/devstoreaccount1/receipts/o-1.json?comp=tags", accessOwner, "storage/receipts"},
		// A name right below the account without restype=container is a blob in $root.
		{"GET", "/devstoreaccount1/readme.txt", accessRead, "storage/$root"},
		{"PUT", "/devstoreaccount1/readme.txt", accessWrite, "storage/$root"},
		// Unknown operations fall back to the method, never to "allowed".
		{"PATCH", "/devstoreaccount1/receipts/o-1.json?comp=whatever", accessWrite, "storage/receipts"},
		{"DELETE", "/devstoreaccount1/", accessOwner, "storage"},
	}
	for _, c := range cases {
		u, err := url.Parse(c.target)
		if err != nil {
			t.Fatal(err)
		}
		op := classify(c.method, u.Path, u.Query())
		if op.access != c.want || op.scope != c.scope {
			t.Errorf("%s %s = %s (access %d) at %q, want access %d at %q", c.method, c.target, op.name, op.access, op.scope, c.want, c.scope)
		}
	}
}

func TestCopySourceScope(t *testing.T) {
	cases := map[string]string{
		"": "",
		"https://127.0.0.1:10000/devstoreaccount1/attachments/o-1/a.pdf":              "storage/attachments",
		"https://127.0.0.1:10000/devstoreaccount1/attachments/o-1/a.pdf?sig=abc&sv=x": "", // the SAS authorizes the read
		"https://127.0.0.1:10000/otheraccount/attachments/a.pdf":                      "",
		"https://example.com/devstoreaccount1":                                        "",
		"%zz":                                                                         "",
	}
	for src, want := range cases {
		if got := copySourceScope(src, "devstoreaccount1"); got != want {
			t.Errorf("copySourceScope(%q) = %q, want %q", src, got, want)
		}
	}
}
