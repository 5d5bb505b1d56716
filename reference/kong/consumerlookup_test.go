package kong

import "testing"

// The lookup order is mtls-auth's: every name's credentials (bound to the anchor's CA, then to
// none) before any name's consumer_by fields, the fields in consumer_by's order.
func TestConsumerLookupOrder(t *testing.T) {
	ix := ConsumerIndex{
		IDs: map[string]bool{"u-bob": true, "u-ann": true, "u-carl": true, "u-dee": true},
		Credentials: map[string]map[string]string{
			"cn-bob": {"ca-1": "u-bob", "": "u-ann"},
			"cn-ann": {"": "u-ann"},
		},
		ByUsername: map[string]string{"san-carl": "u-carl", "cn-bob": "u-carl", "dee": "u-dee"},
		ByCustomID: map[string]string{"san-carl": "u-dee"},
	}
	both := []string{ConsumerByUsername, ConsumerByCustomID}
	for _, c := range []struct {
		names      []string
		ca         string
		consumerBy []string
		want       string
	}{
		{[]string{"cn-bob"}, "ca-1", both, "u-bob"},                                           // bound to the anchor's CA first
		{[]string{"cn-bob"}, "ca-2", both, "u-ann"},                                           // then the CA-less one
		{[]string{"cn-bob"}, "", both, "u-ann"},                                               // no anchor among the plugin's CAs: CA-less only
		{[]string{"san-carl", "cn-ann"}, "ca-1", both, "u-ann"},                               // a later name's credential beats an earlier name's username
		{[]string{"san-carl"}, "", both, "u-carl"},                                            // username before custom_id
		{[]string{"san-carl"}, "", []string{ConsumerByCustomID, ConsumerByUsername}, "u-dee"}, // unless consumer_by says otherwise
		{[]string{"san-carl"}, "", nil, ""},                                                   // an empty consumer_by matches nobody
		{[]string{"nobody"}, "", both, ""},
	} {
		got, ok := ix.Lookup(c.names, c.ca, c.consumerBy)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("Lookup(%v, %q, %v) = %q, %v; want %q", c.names, c.ca, c.consumerBy, got, ok, c.want)
		}
	}
	for ref, want := range map[string]string{"u-dee": "u-dee", "dee": "u-dee", "missing": ""} {
		if got, ok := ix.Resolve(ref); got != want || ok != (want != "") {
			t.Errorf("Resolve(%q) = %q, %v; want %q", ref, got, ok, want)
		}
	}
}
