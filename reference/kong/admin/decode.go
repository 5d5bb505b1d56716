package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxBody bounds an Admin API request body (certificates and declarative configs included).
const maxBody = 16 << 20

// decodeBody reads a JSON, urlencoded or multipart body into Kong's argument structure. form
// reports whether values are strings that still need the schema's type inference.
func decodeBody(r *http.Request) (in map[string]any, form bool, err *Error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body := http.MaxBytesReader(nil, r.Body, maxBody)
	switch mt {
	case "application/json":
		b, rerr := io.ReadAll(body)
		if rerr != nil {
			return nil, false, badRequest("Cannot read request body: " + rerr.Error())
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			return map[string]any{}, false, nil
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return nil, false, badRequest("Cannot parse JSON body")
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false, badRequest("Cannot parse JSON body")
		}
		return m, false, nil
	case "multipart/form-data":
		r.Body = body
		if perr := r.ParseMultipartForm(maxBody); perr != nil {
			return nil, false, badRequest("Cannot parse multipart body: " + perr.Error())
		}
		values := url.Values{}
		for k, vs := range r.MultipartForm.Value {
			values[k] = append(values[k], vs...)
		}
		for k, fhs := range r.MultipartForm.File {
			for _, fh := range fhs {
				f, oerr := fh.Open()
				if oerr != nil {
					return nil, false, badRequest("Cannot read multipart file: " + oerr.Error())
				}
				b, rerr := io.ReadAll(f)
				f.Close()
				if rerr != nil {
					return nil, false, badRequest("Cannot read multipart file: " + rerr.Error())
				}
				values[k] = append(values[k], string(b))
			}
		}
		return decodeArgs(values), true, nil
	case "application/x-www-form-urlencoded", "":
		b, rerr := io.ReadAll(body)
		if rerr != nil {
			return nil, false, badRequest("Cannot read request body: " + rerr.Error())
		}
		values, perr := url.ParseQuery(string(b))
		if perr != nil {
			return nil, false, badRequest("Cannot parse form body: " + perr.Error())
		}
		return decodeArgs(values), true, nil
	}
	return nil, false, &Error{Status: http.StatusUnsupportedMediaType, Message: fmt.Sprintf("Unsupported Content-Type: %s", mt)}
}

// decodeArgs applies Kong's arguments.lua notation: "a.b=1" and "a[b]=1" nest, "a[]=x" and
// repeated keys make arrays, "a[1]=x" indexes (turned into an array by inference).
func decodeArgs(values url.Values) map[string]any {
	out := map[string]any{}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := values[k]
		path, appendArr := splitKey(k)
		var v any
		if len(vs) == 1 && !appendArr {
			v = vs[0]
		} else {
			list := make([]any, len(vs))
			for i, s := range vs {
				list[i] = s
			}
			v = list
		}
		setPath(out, path, v)
	}
	return out
}

// splitKey turns "config.a[b][]" into [config a b] and reports the trailing [] (append).
func splitKey(k string) ([]string, bool) {
	appendArr := strings.HasSuffix(k, "[]")
	k = strings.TrimSuffix(k, "[]")
	var parts []string
	for _, dotted := range strings.Split(k, ".") {
		for {
			i := strings.IndexByte(dotted, '[')
			if i < 0 || !strings.HasSuffix(dotted, "]") {
				parts = append(parts, dotted)
				break
			}
			parts = append(parts, dotted[:i])
			rest := dotted[i+1 : len(dotted)-1]
			for _, p := range strings.Split(rest, "][") {
				parts = append(parts, p)
			}
			break
		}
	}
	return parts, appendArr
}

func setPath(m map[string]any, path []string, v any) {
	for i, p := range path {
		if i == len(path)-1 {
			if prev, ok := m[p]; ok {
				m[p] = appendValues(prev, v)
			} else {
				m[p] = v
			}
			return
		}
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
}

func appendValues(a, b any) any {
	var out []any
	for _, v := range []any{a, b} {
		if l, ok := v.([]any); ok {
			out = append(out, l...)
		} else {
			out = append(out, v)
		}
	}
	return out
}
