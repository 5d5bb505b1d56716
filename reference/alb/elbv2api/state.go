package elbv2api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// model is everything the API created: ELBv2 resources, ACM certificates and S3 objects. Large
// contents (bundles, CRLs, certificates, keys, objects) are blobs named by their SHA-256.
type model struct {
	Seq           int64                    `json:"seq"`
	LoadBalancers map[string]*loadBalancer `json:"loadBalancers"`
	TargetGroups  map[string]*targetGroup  `json:"targetGroups"`
	Listeners     map[string]*listener     `json:"listeners"`
	TrustStores   map[string]*trustStore   `json:"trustStores"`
	Certificates  map[string]*certificate  `json:"certificates"`
	Buckets       map[string]*bucket       `json:"buckets"`
	// Tags are the ELBv2 resources' tags, by ARN.
	Tags map[string][]tag `json:"tags,omitempty"`
}

type loadBalancer struct {
	Seq            int64     `json:"seq"`
	Arn            string    `json:"arn"`
	Name           string    `json:"name"`
	DNSName        string    `json:"dnsName"`
	Scheme         string    `json:"scheme"`
	IPAddressType  string    `json:"ipAddressType"`
	SecurityGroups []string  `json:"securityGroups,omitempty"`
	Subnets        []string  `json:"subnets,omitempty"`
	Created        time.Time `json:"created"`
	// Attributes are those ModifyLoadBalancerAttributes set, in the order first set.
	Attributes []alb.Attribute `json:"attributes,omitempty"`
}

type targetGroup struct {
	Seq                        int64        `json:"seq"`
	Arn                        string       `json:"arn"`
	Name                       string       `json:"name"`
	Protocol                   string       `json:"protocol"`
	Port                       int          `json:"port"`
	VpcID                      string       `json:"vpcId,omitempty"`
	TargetType                 string       `json:"targetType"`
	HealthCheckEnabled         bool         `json:"healthCheckEnabled"`
	HealthCheckProtocol        string       `json:"healthCheckProtocol"`
	HealthCheckPort            string       `json:"healthCheckPort"`
	HealthCheckPath            string       `json:"healthCheckPath"`
	HealthCheckIntervalSeconds int          `json:"healthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int          `json:"healthCheckTimeoutSeconds"`
	HealthyThresholdCount      int          `json:"healthyThresholdCount"`
	UnhealthyThresholdCount    int          `json:"unhealthyThresholdCount"`
	Matcher                    string       `json:"matcher"`
	Targets                    []alb.Target `json:"targets,omitempty"`
}

type listener struct {
	Seq             int64           `json:"seq"`
	Arn             string          `json:"arn"`
	LoadBalancerArn string          `json:"loadBalancerArn"`
	Port            int             `json:"port"`
	Protocol        string          `json:"protocol"`
	SslPolicy       string          `json:"sslPolicy"`
	Certificates    []string        `json:"certificates"`
	TargetGroupArn  string          `json:"targetGroupArn"`
	Mutual          mutualAuth      `json:"mutualAuthentication"`
	Attributes      []alb.Attribute `json:"attributes,omitempty"`
}

type mutualAuth struct {
	Mode                          string `json:"mode"`
	TrustStoreArn                 string `json:"trustStoreArn,omitempty"`
	IgnoreClientCertificateExpiry bool   `json:"ignoreClientCertificateExpiry,omitempty"`
	AdvertiseTrustStoreCaNames    string `json:"advertiseTrustStoreCaNames,omitempty"`
}

type trustStore struct {
	Seq            int64        `json:"seq"`
	Arn            string       `json:"arn"`
	Name           string       `json:"name"`
	Bundle         string       `json:"bundle"`
	CACertificates int          `json:"caCertificates"`
	Revocations    []revocation `json:"revocations,omitempty"`
	NextRevocation int64        `json:"nextRevocation"`
}

type revocation struct {
	ID      int64  `json:"id"`
	Type    string `json:"type"`
	Blob    string `json:"blob"`
	Entries int    `json:"entries"`
}

type certificate struct {
	Arn      string    `json:"arn"`
	Cert     string    `json:"cert"` // leaf then chain, PEM
	Key      string    `json:"key"`  // private key, PEM
	Imported time.Time `json:"imported"`
}

type bucket struct {
	Name    string             `json:"name"`
	Created time.Time          `json:"created"`
	Objects map[string]*object `json:"objects"`
}

type object struct {
	Blob        string    `json:"blob"`
	Size        int64     `json:"size"`
	ETag        string    `json:"etag"`
	ContentType string    `json:"contentType,omitempty"`
	Modified    time.Time `json:"modified"`
}

func newModel() *model {
	return &model{LoadBalancers: map[string]*loadBalancer{}, TargetGroups: map[string]*targetGroup{},
		Listeners: map[string]*listener{}, TrustStores: map[string]*trustStore{},
		Certificates: map[string]*certificate{}, Buckets: map[string]*bucket{}, Tags: map[string][]tag{}}
}

// clone deep-copies the model, so a call works on a copy and the live one changes only on success.
func (m *model) clone() *model {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("clone the API model: %v", err)) // only plain data: cannot fail
	}
	out := newModel()
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("clone the API model: %v", err))
	}
	return out
}

// store keeps blobs and the model file in a directory. Every write is atomic: a temporary file
// in the same directory, written, fsynced, renamed over the target, and the directory fsynced.
type store struct {
	dir     string
	persist bool // false: the directory is a temporary one and the model is not written
}

const stateFile = "state.json"

func (s *store) blobPath(sum string) string { return filepath.Join(s.dir, "blobs", sum) }

// putBlob stores b under its SHA-256 and returns the name; an existing blob is reused.
func (s *store) putBlob(b []byte) (string, error) {
	h := sha256.Sum256(b)
	sum := hex.EncodeToString(h[:])
	p := s.blobPath(sum)
	if _, err := os.Stat(p); err == nil {
		return sum, nil
	}
	if err := writeAtomic(p, b); err != nil {
		return "", fmt.Errorf("store blob: %w", err)
	}
	return sum, nil
}

func (s *store) blob(sum string) ([]byte, error) { return os.ReadFile(s.blobPath(sum)) }

// save writes the model; it returns once the new state is durable.
func (s *store) save(m *model) error {
	if !s.persist {
		return nil
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := writeAtomic(filepath.Join(s.dir, stateFile), b); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// load reads the model; a directory without one starts empty.
func (s *store) load() (*model, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return newModel(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	m := newModel()
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("load state %s: %w (the file is written atomically; restore it from a backup or move it away to start empty)", filepath.Join(s.dir, stateFile), err)
	}
	for _, c := range m.Certificates {
		for _, sum := range []string{c.Cert, c.Key} {
			if _, err := os.Stat(s.blobPath(sum)); err != nil {
				return nil, fmt.Errorf("load state: certificate %s: %w", c.Arn, err)
			}
		}
	}
	for _, t := range m.TrustStores {
		if _, err := os.Stat(s.blobPath(t.Bundle)); err != nil {
			return nil, fmt.Errorf("load state: trust store %s: %w", t.Arn, err)
		}
	}
	return m, nil
}

// writeAtomic replaces path with b so that a crash leaves either the old or the new content.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
