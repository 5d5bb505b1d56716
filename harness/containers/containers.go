// Package containers runs mtlsgate's own programs, and gateways under test, as Docker containers
// through testcontainers-go: it checks for an engine, builds the FROM-scratch mtlsgate image once
// per content hash, and starts containers on a private network with files copied in. Nothing is
// ever pulled: every image must already be on the engine.
package containers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// ImageEnv names a prebuilt mtlsgate image to use instead of building one.
const ImageEnv = "MTLSGATE_IMAGE"

// ReferenceLabel marks the mtlsgate image; a Kong target seeing it knows the gateway keeps its
// entities in memory and needs no database.
const ReferenceLabel = "org.mtlsgate.reference"

// ImageRepo is the repository the built mtlsgate images are tagged in.
const ImageRepo = "mtlsgate/mtlsgate"

// Engine is a reachable Docker engine.
type Engine struct {
	client *testcontainers.DockerClient

	mu    sync.Mutex
	image string // the mtlsgate image once built
}

// Connect finds the Docker engine, failing within seconds when there is none. It also sets the
// testcontainers-go switches this project relies on: no reaper (its image cannot be pulled; every
// container is removed by its owner), and containers reached on 127.0.0.1 rather than on the
// default gateway testcontainers-go picks when it believes it runs inside a container.
func Connect(ctx context.Context) (*Engine, error) {
	setDefault("TESTCONTAINERS_RYUK_DISABLED", "true")
	setDefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, noEngine(err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, noEngine(err)
	}
	return &Engine{client: cli}, nil
}

func noEngine(err error) error {
	return fmt.Errorf("no Docker engine found: %w (start Docker, or set DOCKER_HOST; the in-process target MTLSGATE_TARGET=reference needs none)", err)
}

// setDefault sets an environment variable testcontainers-go reads, unless the user set it.
func setDefault(key, value string) {
	if _, ok := os.LookupEnv(key); !ok {
		_ = os.Setenv(key, value)
	}
}

// Close releases the engine connection.
func (e *Engine) Close() error { return e.client.Close() }

// HasImage reports whether an image is present on the engine.
func (e *Engine) HasImage(ctx context.Context, ref string) (bool, map[string]string, error) {
	res, err := e.client.ImageInspect(ctx, ref)
	if errdefs.IsNotFound(err) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("inspect image %q: %w", ref, err)
	}
	var labels map[string]string
	if res.Config != nil {
		labels = res.Config.Labels
	}
	return true, labels, nil
}

// MtlsgateImage returns the mtlsgate image: MTLSGATE_IMAGE if set (it must exist), else one built
// FROM scratch from a static build of this checkout, tagged by the binary's SHA-256 so an
// unchanged build reuses the image.
func (e *Engine) MtlsgateImage(ctx context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.image != "" {
		return e.image, nil
	}
	if ref := os.Getenv(ImageEnv); ref != "" {
		ok, _, err := e.HasImage(ctx, ref)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("%s=%s is not on the Docker engine: build it with `make image` or unset %s", ImageEnv, ref, ImageEnv)
		}
		e.image = ref
		return ref, nil
	}
	ref, err := BuildImage(ctx, e)
	if err != nil {
		return "", err
	}
	e.image = ref
	return ref, nil
}

// BuildImage builds the static mtlsgate binary and the FROM-scratch image around it.
func BuildImage(ctx context.Context, e *Engine) (string, error) {
	dir, err := os.MkdirTemp("", "mtlsgate-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mtlsgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/mtlsgate")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build static mtlsgate for the image: %w\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	tag := hex.EncodeToString(sum[:])[:16]
	ref := ImageRepo + ":" + tag
	if ok, _, err := e.HasImage(ctx, ref); err != nil || ok {
		return ref, err
	}
	dockerfile := "FROM scratch\nLABEL " + ReferenceLabel + "=true\nCOPY mtlsgate /mtlsgate\nENTRYPOINT [\"/mtlsgate\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	req := testcontainers.GenericContainerRequest{ContainerRequest: testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{Context: dir, Repo: ImageRepo, Tag: tag, KeepImage: true},
	}}
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", fmt.Errorf("build mtlsgate image: %w", err)
	}
	defer provider.Close()
	if _, err := provider.BuildImage(ctx, &req); err != nil {
		return "", fmt.Errorf("build mtlsgate image: %w", err)
	}
	return ref, nil
}

// moduleRoot is the directory of this checkout's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root (go env GOMOD): %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("find the module root: not inside the mtlsgate module")
	}
	return filepath.Dir(mod), nil
}

// Network is a Docker network a run created; containers reach each other on it by alias.
type Network struct {
	net *testcontainers.DockerNetwork
}

// NewNetwork creates a private network.
func NewNetwork(ctx context.Context) (*Network, error) {
	n, err := network.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("create Docker network: %w", err)
	}
	return &Network{net: n}, nil
}

// Name is the network's name.
func (n *Network) Name() string { return n.net.Name }

// Remove deletes the network.
func (n *Network) Remove(ctx context.Context) error { return n.net.Remove(ctx) }

// File is a file copied into a container before it starts.
type File struct {
	Path    string // in the container
	Content []byte
	Mode    int64
}

// Request describes one container to start on a network.
type Request struct {
	Image string
	// Alias is the container's name on the network.
	Alias string
	Cmd   []string
	Env   map[string]string
	// Ports are the container ports published on 127.0.0.1 ("8000/tcp").
	Ports []string
	Files []File
	// Wait says when the container is ready; testcontainers-go's wait package builds these.
	Wait wait.Strategy
}

// Container is a started container.
type Container struct {
	c testcontainers.Container
}

// Start runs a container on the network. The container is returned even on error when one
// was created, so the caller can remove it.
func (n *Network) Start(ctx context.Context, r Request) (*Container, error) {
	req := testcontainers.ContainerRequest{
		Image: r.Image, Cmd: r.Cmd, Env: r.Env, ExposedPorts: r.Ports,
		Networks: []string{n.net.Name}, NetworkAliases: map[string][]string{n.net.Name: {r.Alias}},
		WaitingFor: r.Wait,
	}
	for _, f := range r.Files {
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		req.Files = append(req.Files, testcontainers.ContainerFile{Reader: bytes.NewReader(f.Content), ContainerFilePath: f.Path, FileMode: mode})
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	var out *Container
	if c != nil {
		out = &Container{c: c}
	}
	if err != nil {
		logs := ""
		if out != nil {
			logs = out.Logs(context.Background())
		}
		return out, fmt.Errorf("start container %s (%s): %w\n%s", r.Alias, r.Image, err, logs)
	}
	return out, nil
}

// URL is scheme://127.0.0.1:<mapped port> for a container port.
func (c *Container) URL(ctx context.Context, port, scheme string) (string, error) {
	u, err := c.c.PortEndpoint(ctx, port, scheme)
	if err != nil {
		return "", fmt.Errorf("mapped port %s: %w", port, err)
	}
	return u, nil
}

// Logs returns what the container printed, for error messages.
func (c *Container) Logs(ctx context.Context) string {
	r, err := c.c.Logs(ctx)
	if err != nil {
		return ""
	}
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	return string(b)
}

// ExitCode is the exit status of a container that has stopped.
func (c *Container) ExitCode(ctx context.Context) (int, error) {
	st, err := c.c.State(ctx)
	if err != nil {
		return 0, fmt.Errorf("container state: %w", err)
	}
	if st.Running {
		return 0, errors.New("container is still running")
	}
	return st.ExitCode, nil
}

// Terminate stops and removes the container.
func (c *Container) Terminate(ctx context.Context) error { return c.c.Terminate(ctx) }

// DirFiles reads every regular file under dir as Files rooted at prefix in the container.
func DirFiles(dir, prefix string) ([]File, error) {
	var out []File
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, File{Path: filepath.ToSlash(filepath.Join(prefix, rel)), Content: b, Mode: 0o644})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s for the container: %w", dir, err)
	}
	return out, nil
}
