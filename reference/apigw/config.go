package apigw

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/mtlsgate/mtlsgate/internal/regularfile"
)

// File is the apigw.yaml document: what `mtlsgate serve apigw --config` reads.
//
//	listen: 127.0.0.1:8444
//	cert: pki/server.crt        # relative paths are relative to this file
//	key: pki/server.key
//	domains:
//	  - name: api.example.test
//	    mappings:
//	      - basePath: "(none)"  # or "" : the root mapping
//	        stage: prod
//	        api: petstore
type File struct {
	Listen  string       `yaml:"listen"`
	Cert    string       `yaml:"cert"`
	Key     string       `yaml:"key"`
	Domains []FileDomain `yaml:"domains"`
}

// FileDomain is a domain in apigw.yaml.
type FileDomain struct {
	Name     string        `yaml:"name"`
	Mappings []FileMapping `yaml:"mappings"`
}

// FileMapping is an API mapping in apigw.yaml, with the field names of the API Gateway API.
type FileMapping struct {
	BasePath string `yaml:"basePath"`
	Stage    string `yaml:"stage"`
	API      string `yaml:"api"`
}

// ReadFile parses apigw.yaml strictly (an unknown key is an error, so a typo cannot silently
// drop a setting) and resolves cert and key against the file's directory.
func ReadFile(path string) (File, error) {
	b, err := regularfile.Read(path, regularfile.MaxConfig)
	if err != nil {
		return File{}, fmt.Errorf("read apigw config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return File{}, fmt.Errorf("parse apigw config %q: %w", path, err)
	}
	dir := filepath.Dir(path)
	for _, p := range []*string{&f.Cert, &f.Key} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return f, nil
}

// DomainsOf converts the file's domains to the values Start and SetDomains take.
func (f File) DomainsOf() []Domain {
	ds := make([]Domain, 0, len(f.Domains))
	for _, fd := range f.Domains {
		d := Domain{Name: fd.Name}
		for _, m := range fd.Mappings {
			d.Mappings = append(d.Mappings, Mapping(m))
		}
		ds = append(ds, d)
	}
	return ds
}

// Config loads the certificate and key and checks the domains, so every mistake in the file is
// reported before anything listens; the error names the key to fix.
func (f File) Config() (Config, error) {
	if f.Cert == "" || f.Key == "" {
		return Config{}, errors.New("apigw config: cert and key: both are required (PEM files, e.g. from `mtlsgate pki`: server.crt and server.key)")
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return Config{}, fmt.Errorf("apigw config: load cert %q and key %q: %w", f.Cert, f.Key, err)
	}
	ds := f.DomainsOf()
	if _, err := newTable(ds); err != nil {
		return Config{}, fmt.Errorf("apigw config: %w", err)
	}
	return Config{Addr: f.Listen, Certificate: pair, Domains: ds}, nil
}
