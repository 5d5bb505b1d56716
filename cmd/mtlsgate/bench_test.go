package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Bad flags stop `mtlsgate bench` before anything starts, with the flag named.
func TestBenchRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--only", "kong,envoy"}, `--only: unknown server "envoy"`},
		{[]string{"--only", "nginx,nginx"}, `--only: "nginx" is named twice`},
		{[]string{"--idle-conns", "100000"}, "--idle-conns"},
		{[]string{"--rounds", "1000"}, "--rounds"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"bench"}, tc.args...), &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench %v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}
