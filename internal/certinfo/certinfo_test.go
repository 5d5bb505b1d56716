package certinfo

import (
	"crypto/x509"
	"math/big"
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

// TestSerialHex: whole bytes in uppercase, as AWS's example header 03A5B1 shows, never Go's
// shortest form 3A5B1.
func TestSerialHex(t *testing.T) {
	for serial, want := range map[int64]string{0x03A5B1: "03A5B1", 0x80: "80", 0x0F: "0F", 0: "00", -0x0A: "-0A"} {
		c := &x509.Certificate{SerialNumber: big.NewInt(serial)}
		if got := SerialHex(c); got != want {
			t.Errorf("serial %#x: %q, want %q", serial, got, want)
		}
	}
}
