package elbv2api

import (
	"bufio"
	"bytes"
	"crypto/md5" //nolint:gosec // S3's ETag of a single-part object is its MD5
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const s3xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// writeS3Error writes S3's error document (HEAD answers carry no body).
func writeS3Error(w http.ResponseWriter, r *http.Request, rid string, e *apiError) {
	w.Header().Set("X-Amz-Request-Id", rid)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead {
		return
	}
	doc := struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		Resource  string
		RequestID string `xml:"RequestId"`
	}{Code: e.Code, Message: e.Message, Resource: r.URL.Path, RequestID: rid}
	b, _ := xml.Marshal(doc)
	_, _ = w.Write(append([]byte(xml.Header), b...))
}

func s3Err(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

func noSuchBucket() *apiError {
	return s3Err(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
}

// bucketAndKey reads the bucket and key, path style (/bucket/key) or virtual-hosted
// (bucket.localhost:4566/key).
func bucketAndKey(r *http.Request) (string, string) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	if b, ok := strings.CutSuffix(host, ".localhost"); ok && b != "" && net.ParseIP(host) == nil {
		return b, path
	}
	bucketName, key, _ := strings.Cut(path, "/")
	return bucketName, key
}

// serveS3 answers the S3 calls a trust store needs: buckets, and objects put, got, listed and deleted.
func (s *Server) serveS3(w http.ResponseWriter, r *http.Request, rid string) {
	bucketName, key := bucketAndKey(r)
	q := r.URL.Query()
	for _, sub := range []string{"acl", "policy", "versioning", "tagging", "uploads", "uploadId", "cors", "lifecycle", "website", "encryption", "versions", "delete"} {
		if q.Has(sub) {
			writeS3Error(w, r, rid, s3Err(http.StatusNotImplemented, "NotImplemented", fmt.Sprintf("A header or query you provided implies functionality that is not implemented (?%s: the emulator's S3 keeps plain objects only)", sub)))
			return
		}
	}
	var err *apiError
	switch {
	case bucketName == "" && r.Method == http.MethodGet:
		err = s.listBuckets(w, rid)
	case bucketName == "":
		err = s3Err(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	case key == "" && r.Method == http.MethodPut:
		err = s.createBucket(w, r, bucketName)
	case key == "" && r.Method == http.MethodHead:
		if s.snapshot().Buckets[bucketName] == nil {
			err = noSuchBucket()
		}
	case key == "" && r.Method == http.MethodGet && q.Has("location"):
		err = s.bucketLocation(w, bucketName)
	case key == "" && r.Method == http.MethodGet:
		err = s.listObjects(w, r, bucketName)
	case key == "" && r.Method == http.MethodDelete:
		err = s.deleteBucket(w, r, bucketName)
	case r.Method == http.MethodPut:
		err = s.putObject(w, r, bucketName, key)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		err = s.getObject(w, r, bucketName, key)
	case r.Method == http.MethodDelete:
		err = s.deleteObject(w, r, bucketName, key)
	default:
		err = s3Err(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
	if err != nil {
		writeS3Error(w, r, rid, err)
	}
}

func writeXML(w http.ResponseWriter, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write(append([]byte(xml.Header), b...))
}

func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (s *Server) listBuckets(w http.ResponseWriter, _ string) *apiError {
	m := s.snapshot()
	type xb struct {
		Name         string
		CreationDate string
	}
	doc := struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		Xmlns   string   `xml:"xmlns,attr"`
		Owner   struct{ ID, DisplayName string }
		Buckets []xb `xml:"Buckets>Bucket"`
	}{Xmlns: s3xmlns}
	doc.Owner.ID, doc.Owner.DisplayName = s.opts.AccountID, "mtlsgate"
	names := make([]string, 0, len(m.Buckets))
	for n := range m.Buckets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		doc.Buckets = append(doc.Buckets, xb{n, s3Time(m.Buckets[n].Created)})
	}
	writeXML(w, doc)
	return nil
}

func (s *Server) createBucket(w http.ResponseWriter, r *http.Request, name string) *apiError {
	if !bucketRE.MatchString(name) || strings.Contains(name, "..") || net.ParseIP(name) != nil {
		return s3Err(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	}
	if _, tooBig, err := readBody(r, MaxQueryBody); err != nil || tooBig {
		return s3Err(http.StatusBadRequest, "MalformedXML", "The CreateBucketConfiguration body could not be read")
	}
	err := s.change(r.Context(), func(m *model) *apiError {
		if m.Buckets[name] != nil {
			return s3Err(http.StatusConflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
		}
		m.Buckets[name] = &bucket{Name: name, Created: time.Now(), Objects: map[string]*object{}}
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/"+name)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) bucketLocation(w http.ResponseWriter, name string) *apiError {
	if s.snapshot().Buckets[name] == nil {
		return noSuchBucket()
	}
	loc := s.opts.Region
	if loc == "us-east-1" {
		loc = ""
	}
	writeXML(w, struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		Xmlns   string   `xml:"xmlns,attr"`
		Value   string   `xml:",chardata"`
	}{Xmlns: s3xmlns, Value: loc})
	return nil
}

func (s *Server) deleteBucket(w http.ResponseWriter, r *http.Request, name string) *apiError {
	err := s.change(r.Context(), func(m *model) *apiError {
		b := m.Buckets[name]
		if b == nil {
			return noSuchBucket()
		}
		if len(b.Objects) > 0 {
			return s3Err(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty")
		}
		delete(m.Buckets, name)
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// objectBody reads a PutObject body, decoding aws-chunked uploads (the SDKs' streaming
// signatures and trailing checksums).
func objectBody(r *http.Request) ([]byte, *apiError) {
	tooLarge := s3Err(http.StatusBadRequest, "EntityTooLarge", fmt.Sprintf("Your proposed upload exceeds the maximum allowed size (%d bytes in the emulator)", MaxObjectSize))
	raw, tooBig, err := readBody(r, MaxObjectSize*2)
	if err != nil {
		return nil, s3Err(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header: "+err.Error())
	}
	if tooBig {
		return nil, tooLarge
	}
	chunked := strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") || strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-")
	if chunked {
		if raw, err = decodeAWSChunked(raw); err != nil {
			return nil, s3Err(http.StatusBadRequest, "IncompleteBody", "The aws-chunked body is malformed: "+err.Error())
		}
	}
	if len(raw) > MaxObjectSize {
		return nil, tooLarge
	}
	return raw, nil
}

// decodeAWSChunked reads SigV4 streaming chunks: "<hex size>[;chunk-signature=…]\r\n<data>\r\n",
// ending with a zero-size chunk and optional trailers.
func decodeAWSChunked(b []byte) ([]byte, error) {
	br := bufio.NewReader(bytes.NewReader(b))
	var out bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("chunk header: %w", err)
		}
		sizeText, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
		if err != nil || size < 0 || size > MaxObjectSize {
			return nil, fmt.Errorf("chunk size %q", sizeText)
		}
		if size == 0 {
			return out.Bytes(), nil
		}
		if _, err := io.CopyN(&out, br, size); err != nil {
			return nil, fmt.Errorf("chunk data: %w", err)
		}
		if crlf, err := br.ReadString('\n'); err != nil || strings.TrimRight(crlf, "\r\n") != "" {
			return nil, fmt.Errorf("chunk data longer than its size")
		}
	}
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request, bucketName, key string) *apiError {
	if r.Header.Get("X-Amz-Copy-Source") != "" {
		return s3Err(http.StatusNotImplemented, "NotImplemented", "CopyObject is not emulated; upload the object instead")
	}
	if len(key) > 1024 {
		return s3Err(http.StatusBadRequest, "KeyTooLongError", "Your key is too long")
	}
	if s.snapshot().Buckets[bucketName] == nil {
		return noSuchBucket()
	}
	body, err := objectBody(r)
	if err != nil {
		return err
	}
	blob, perr := s.store.putBlob(body)
	if perr != nil {
		return s3Err(http.StatusInternalServerError, "InternalError", perr.Error())
	}
	sum := md5.Sum(body) //nolint:gosec // S3's ETag
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	err = s.change(r.Context(), func(m *model) *apiError {
		b := m.Buckets[bucketName]
		if b == nil {
			return noSuchBucket()
		}
		b.Objects[key] = &object{Blob: blob, Size: int64(len(body)), ETag: etag, ContentType: r.Header.Get("Content-Type"), Modified: time.Now()}
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, bucketName, key string) *apiError {
	b := s.snapshot().Buckets[bucketName]
	if b == nil {
		return noSuchBucket()
	}
	o := b.Objects[key]
	if o == nil {
		return s3Err(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	w.Header().Set("ETag", o.ETag)
	w.Header().Set("Last-Modified", o.Modified.UTC().Format(http.TimeFormat))
	w.Header().Set("Content-Length", strconv.FormatInt(o.Size, 10))
	w.Header().Set("Content-Type", orDefault(o.ContentType, "binary/octet-stream"))
	w.Header().Set("Accept-Ranges", "bytes")
	if r.Method == http.MethodHead {
		return nil
	}
	content, err := s.store.blob(o.Blob)
	if err != nil {
		return s3Err(http.StatusInternalServerError, "InternalError", err.Error())
	}
	_, _ = w.Write(content)
	return nil
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, bucketName, key string) *apiError {
	err := s.change(r.Context(), func(m *model) *apiError {
		b := m.Buckets[bucketName]
		if b == nil {
			return noSuchBucket()
		}
		delete(b.Objects, key)
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listObjects answers ListObjects and ListObjectsV2 (list-type=2) with prefix, delimiter and max-keys.
func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, bucketName string) *apiError {
	b := s.snapshot().Buckets[bucketName]
	if b == nil {
		return noSuchBucket()
	}
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s3Err(http.StatusBadRequest, "InvalidArgument", "max-keys must be a non-negative integer")
		}
		maxKeys = min(n, 1000)
	}
	after := q.Get("start-after")
	if t := q.Get("continuation-token"); t != "" {
		after = t
	}
	if m := q.Get("marker"); m != "" {
		after = m
	}
	keys := make([]string, 0, len(b.Objects))
	for k := range b.Objects {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	type xo struct {
		Key          string
		LastModified string
		ETag         string
		Size         int64
		StorageClass string
	}
	type xp struct{ Prefix string }
	var contents []xo
	var prefixes []xp
	seen := map[string]bool{}
	truncated, last := false, ""
	for _, k := range keys {
		if len(contents)+len(prefixes) >= maxKeys {
			truncated = true
			break
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				p := k[:len(prefix)+i+len(delim)]
				if !seen[p] {
					seen[p] = true
					prefixes = append(prefixes, xp{p})
				}
				last = k
				continue
			}
		}
		o := b.Objects[k]
		contents = append(contents, xo{k, s3Time(o.Modified), o.ETag, o.Size, "STANDARD"})
		last = k
	}
	doc := struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Xmlns                 string   `xml:"xmlns,attr"`
		Name                  string
		Prefix                string
		Delimiter             string `xml:",omitempty"`
		MaxKeys               int
		KeyCount              *int `xml:",omitempty"`
		IsTruncated           bool
		NextContinuationToken string `xml:",omitempty"`
		NextMarker            string `xml:",omitempty"`
		Contents              []xo
		CommonPrefixes        []xp
	}{Xmlns: s3xmlns, Name: bucketName, Prefix: prefix, Delimiter: delim, MaxKeys: maxKeys, IsTruncated: truncated}
	if q.Get("list-type") == "2" {
		n := len(contents) + len(prefixes)
		doc.KeyCount = &n
		if truncated {
			doc.NextContinuationToken = last
		}
	} else if truncated {
		doc.NextMarker = last
	}
	doc.Contents, doc.CommonPrefixes = contents, prefixes
	writeXML(w, doc)
	return nil
}
