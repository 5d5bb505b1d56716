package certinfo

import (
	"strings"
	"testing"
)

func TestURLEncodedPEMKeepsBase64Literal(t *testing.T) {
	der := []byte{0xfb, 0xff, 0xfe, 0x01, 0x02}
	got := URLEncodedPEM(der)
	want := "-----BEGIN%20CERTIFICATE-----%0A+//+AQI=%0A-----END%20CERTIFICATE-----%0A"
	if got != want {
		t.Fatalf("URLEncodedPEM = %q, want %q", got, want)
	}
	if strings.ContainsAny(got, " \n") {
		t.Fatal("space or newline left unencoded")
	}
}
