package apigw

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Pet is one pet of the PetStore sample API.
type Pet struct {
	ID    int     `json:"id"`
	Type  string  `json:"type"`
	Price float64 `json:"price"`
}

// Pets returns the PetStore sample's fixed pets, as its demo backend lists them.
func Pets() []Pet {
	return []Pet{
		{ID: 1, Type: "dog", Price: 249.99},
		{ID: 2, Type: "cat", Price: 124.99},
		{ID: 3, Type: "fish", Price: 0.99},
	}
}

// maxPetBody bounds a POST /pets body; the sample's pet is a few dozen bytes.
const maxPetBody = 64 << 10

// welcomePage is the sample's mock answer to GET / (abridged).
const welcomePage = `<html>
  <head><title>Pet Store API</title></head>
  <body>
    <h1>Welcome to your Pet Store API</h1>
    <p>You have successfully deployed your first API. You are seeing this HTML page because the
    <code>GET</code> method to the root resource of your API returns this content as a Mock integration.</p>
    <p>The Pet Store API contains the <code>/pets</code> and <code>/pets/{petId}</code> resources.</p>
  </body>
</html>
`

// servePetStore answers path (below the base path) as the PetStore sample does, reporting false
// when the API has no such resource and method so the gateway can answer 403.
func servePetStore(w http.ResponseWriter, r *http.Request, path string) bool {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/" || path == "":
		if r.Method != http.MethodGet {
			return false
		}
		integrationHeaders(w, "text/html")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, welcomePage)
	case len(segs) == 1 && segs[0] == "pets":
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, Pets())
		case http.MethodPost:
			createPet(w, r)
		default:
			return false
		}
	case len(segs) == 2 && segs[0] == "pets" && segs[1] != "":
		if r.Method != http.MethodGet {
			return false
		}
		for _, p := range Pets() {
			if strconv.Itoa(p.ID) == segs[1] {
				writeJSON(w, http.StatusOK, p)
				return true
			}
		}
		// mtlsgate rule: the sample's demo backend has no documented answer for an unknown id.
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Pet not found"})
	default:
		return false
	}
	return true
}

// createPet answers POST /pets as the sample does: the pet echoed back with "success".
func createPet(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Type  string  `json:"type"`
		Price float64 `json:"price"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxPetBody)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Could not parse request body into json: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pet": in, "message": "success"})
}

func integrationHeaders(w http.ResponseWriter, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set(headerTraceID, traceID(time.Now()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"message": "Internal server error"}`, http.StatusInternalServerError)
		return
	}
	integrationHeaders(w, contentTypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
