package admin_test

import (
	"testing"

	"github.com/mtlsgate/mtlsgate/reference/kong"
	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
)

// FuzzDeclarative parses arbitrary bytes as a declarative configuration and loads what parses
// into a fresh store (issue 13). Invariants: no panic; a refused document leaves the store
// empty, an accepted one bumps its version.
func FuzzDeclarative(f *testing.F) {
	for _, s := range []string{
		"_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://127.0.0.1:9\n  routes:\n  - paths: [/a]\n",
		"{\"_format_version\":\"3.0\",\"consumers\":[{\"username\":\"u\",\"acls\":[{\"group\":\"g\"}]}]}",
		"_format_version: \"3.0\"\nplugins:\n- name: " + kong.ACLName + "\n  config: null\n",
		"_format_version: \"1.1\"\n",
		"a: &a [*a, *a, *a]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64<<10 {
			return
		}
		doc, err := admin.ParseDeclarative(b)
		if err != nil {
			return
		}
		db, err := admin.New(admin.Options{Apply: func(*admin.Snapshot) error { return nil }, Plugins: kong.PluginSchemas()})
		if err != nil {
			t.Fatal(err)
		}
		before := db.Snapshot().Version()
		if e := db.LoadDeclarative(doc); e != nil {
			if e.Status >= 500 {
				t.Fatalf("%d %s", e.Status, e.Message)
			}
			if db.Snapshot().Version() != before {
				t.Fatal("a refused document changed the store")
			}
		}
	})
}
