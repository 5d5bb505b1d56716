package elbv2api

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// DefaultPageSize is how many results an ELBv2 Describe call answers when the request names no
// PageSize: the largest PageSize ELBv2 takes.
const DefaultPageSize = 400

// markerPrefix starts every marker the endpoint hands out (inside their base64), so a marker
// from elsewhere is recognised as foreign.
const markerPrefix = "mtlsgate-offset:"

// page cuts one page out of a Describe call's results, as ELBv2 does: at most PageSize of them
// (DefaultPageSize when not given), starting where Marker (a previous page's NextMarker) points.
// next is the NextMarker to ask for the rest with, empty on the last page. A marker this
// endpoint did not hand out is a ValidationError and answers nothing.
func page[T any](items []T, marker string, pageSize *int) (out []T, next string, err *apiError) {
	start := 0
	if marker != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(marker)
		n, aerr := strconv.Atoi(strings.TrimPrefix(string(raw), markerPrefix))
		if derr != nil || aerr != nil || !strings.HasPrefix(string(raw), markerPrefix) || n < 0 || n > len(items) {
			return nil, "", validation("Marker '%s' is not a marker this call returned; give the NextMarker of the previous page, or no Marker for the first page", marker)
		}
		start = n
	}
	size := DefaultPageSize
	if pageSize != nil {
		size = *pageSize // decodeQuery has checked ELBv2's range
	}
	end := min(start+size, len(items))
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(markerPrefix + strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}
