// Package containers runs mtlsgate's own programs, and gateways under test, as Docker containers
// through testcontainers-go: it checks for an engine, builds the FROM-scratch mtlsgate image once
// per content hash, and starts containers on a private network with files copied in. Nothing is
// ever pulled: every image must already be on the engine.
package containers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed" // the Dockerfile
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mobynetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
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
	// logger keeps testcontainers-go's progress lines out of the specs' output (see quietLogger).
	logger tclog.Logger

	mu    sync.Mutex
	image string // the mtlsgate image once built
}

// Connect finds the Docker engine, failing within seconds when there is none. It also sets the
// testcontainers-go switches this project relies on: no reaper (its image cannot be pulled; every
// container is removed by its owner), and containers reached on 127.0.0.1 rather than on the
// default gateway testcontainers-go picks when it believes it runs inside a container. Its log
// drops testcontainers-go's progress lines and keeps the rest on stderr: the requests and
// providers here get that logger, and so does testcontainers-go's process-wide default, which
// its engine banner and port waits write to.
func Connect(ctx context.Context) (*Engine, error) {
	setDefault("TESTCONTAINERS_RYUK_DISABLED", "true")
	setDefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	logger := newQuietLogger(os.Stderr)
	if _, ok := tclog.Default().(*quietLogger); !ok {
		// Set once per process (the default is a plain variable that testcontainers-go reads
		// unlocked), before the first client prints its banner.
		tclog.SetDefault(logger)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// testcontainers-go falls back to /var/run/docker.sock when DOCKER_HOST does not answer; a
	// DOCKER_HOST the user set is the engine they mean, so it must answer itself (with the
	// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH that go with it).
	if host := os.Getenv("DOCKER_HOST"); host != "" {
		if err := ping(ctx, client.FromEnv); err != nil {
			return nil, noEngine(fmt.Errorf("DOCKER_HOST=%s: %w", host, err))
		}
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, noEngine(err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, noEngine(err)
	}
	return &Engine{client: cli, logger: logger}, nil
}

// ping asks one engine whether it is there.
func ping(ctx context.Context, opts ...client.Opt) error {
	cli, err := client.New(opts...)
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	return err
}

func noEngine(err error) error {
	return fmt.Errorf("no Docker engine found: %w (start Docker, or point DOCKER_HOST at a running engine; the in-process target MTLSGATE_TARGET=reference needs none)", err)
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

// imagePorts lists the ports an image exposes ("8000/tcp"), sorted.
func (e *Engine) imagePorts(ctx context.Context, ref string) ([]string, error) {
	res, err := e.client.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("inspect image %q: %w", ref, err)
	}
	var ports []string
	if res.Config != nil {
		for p := range res.Config.ExposedPorts {
			ports = append(ports, p)
		}
	}
	sort.Strings(ports)
	return ports, nil
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
			return "", fmt.Errorf("%s=%s is not on the Docker engine: build it with `make release PLATFORMS=linux/%s` (tags %s:<version> and :latest), or unset %s and the harness builds one from this checkout", ImageEnv, ref, runtime.GOARCH, ImageRepo, ImageEnv)
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

// dockerfile wraps the static binary; it is part of the image's content hash. It is a file of its
// own so that people building the release image by hand (deploy/kubernetes) use the same one.
//
//go:embed Dockerfile
var dockerfile string

// ImageTag is the tag of the image built from a Dockerfile and binary: the first 16 hex digits of
// SHA-256 over both, so an unchanged build reuses the image and any change gets a new one.
func ImageTag(dockerfile, binary []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\n", len(dockerfile))
	h.Write(dockerfile)
	h.Write(binary)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// BuildImage builds the static mtlsgate binary and, unless the engine has it already, the
// FROM-scratch image around it.
func BuildImage(ctx context.Context, e *Engine) (string, error) {
	dir, err := os.MkdirTemp("", "mtlsgate-image-")
	if err != nil {
		return "", fmt.Errorf("build mtlsgate image: %w", err)
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
		return "", fmt.Errorf("read the static mtlsgate build: %w", err)
	}
	tag := ImageTag([]byte(dockerfile), b)
	ref := ImageRepo + ":" + tag
	if ok, _, err := e.HasImage(ctx, ref); err != nil || ok {
		return ref, err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", fmt.Errorf("write the image's Dockerfile: %w", err)
	}
	if err := buildDir(ctx, e.logger, dir, ImageRepo, tag); err != nil {
		return "", fmt.Errorf("build mtlsgate image: %w", err)
	}
	return ref, nil
}

// buildDir builds the Dockerfile in dir as repo:tag and keeps the image.
func buildDir(ctx context.Context, logger tclog.Logger, dir, repo, tag string) error {
	req := testcontainers.GenericContainerRequest{ContainerRequest: testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{Context: dir, Repo: repo, Tag: tag, KeepImage: true},
	}}
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(logger))
	if err != nil {
		return err
	}
	defer provider.Close()
	_, err = provider.BuildImage(ctx, &req)
	return err
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
	engine *Engine
	net    *testcontainers.DockerNetwork
}

// NewNetwork creates a private network on the engine.
func (e *Engine) NewNetwork(ctx context.Context) (*Network, error) {
	n, err := network.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("create Docker network: %w", err)
	}
	return &Network{engine: e, net: n}, nil
}

// Name is the network's name.
func (n *Network) Name() string { return n.net.Name }

// Gateway is the network's IPv4 gateway: the address containers see connections to published
// ports come from.
func (n *Network) Gateway(ctx context.Context) (string, error) {
	res, err := n.engine.client.NetworkInspect(ctx, n.net.ID, client.NetworkInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect Docker network %s: %w", n.net.Name, err)
	}
	for _, c := range res.Network.IPAM.Config {
		if c.Gateway.Is4() {
			return c.Gateway.String(), nil
		}
	}
	return "", fmt.Errorf("Docker network %s has no IPv4 gateway", n.net.Name)
}

// Remove deletes the network.
func (n *Network) Remove(ctx context.Context) error {
	if err := n.net.Remove(ctx); err != nil {
		return fmt.Errorf("remove Docker network %s: %w", n.net.Name, err)
	}
	return nil
}

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
	c      testcontainers.Container
	engine *Engine
}

// Start runs a container on the network. The container is returned even on error when one
// was created, so the caller can remove it.
//
// Ports are published on 127.0.0.1 only. Besides keeping the containers off other interfaces,
// this avoids a Docker 20.10 fault: publishing on every address allocates the IPv4 and the IPv6
// host port separately, so a container can get 0.0.0.0:A and [::]:B for one port while another
// container holds 0.0.0.0:B; testcontainers-go reports the first binding of either family, and
// 127.0.0.1:B then reaches the other container (and stops answering once that one is removed).
//
// Files go in as one tar archive before the container starts: one copy instead of one per file,
// which on a slow storage driver (fuse-overlayfs) is most of a container's start-up time.
func (n *Network) Start(ctx context.Context, r Request) (*Container, error) {
	if len(r.Ports) == 0 {
		// testcontainers-go publishes every port the image exposes when asked for none; publish
		// them on loopback too (a Kong image exposes eight).
		ports, err := n.engine.imagePorts(ctx, r.Image)
		if err != nil {
			return nil, fmt.Errorf("start container %s: %w", r.Alias, err)
		}
		r.Ports = ports
	}
	req := testcontainers.ContainerRequest{
		Image: r.Image, Cmd: r.Cmd, Env: r.Env, ExposedPorts: r.Ports,
		Networks: []string{n.net.Name}, NetworkAliases: map[string][]string{n.net.Name: {r.Alias}},
		WaitingFor:         r.Wait,
		HostConfigModifier: loopbackPorts(r.Ports),
	}
	if len(r.Files) > 0 {
		archive, err := tarFiles(r.Files)
		if err != nil {
			return nil, fmt.Errorf("start container %s (%s): %w", r.Alias, r.Image, err)
		}
		req.LifecycleHooks = []testcontainers.ContainerLifecycleHooks{{
			PostCreates: []testcontainers.ContainerHook{func(ctx context.Context, c testcontainers.Container) error {
				_, err := n.engine.client.CopyToContainer(ctx, c.GetContainerID(), client.CopyToContainerOptions{
					DestinationPath: "/", Content: bytes.NewReader(archive)})
				if err != nil {
					return fmt.Errorf("copy %d files into the container: %w", len(r.Files), err)
				}
				return nil
			}},
		}}
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true, Logger: n.engine.logger})
	var out *Container
	if c != nil {
		out = &Container{c: c, engine: n.engine}
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

// loopbackPorts publishes each port on an ephemeral port of 127.0.0.1 (see Start for why).
func loopbackPorts(ports []string) func(*container.HostConfig) {
	return func(hc *container.HostConfig) {
		if hc.PortBindings == nil {
			hc.PortBindings = mobynetwork.PortMap{}
		}
		for _, p := range ports {
			port, err := mobynetwork.ParsePort(p)
			if err != nil {
				continue // testcontainers-go rejects it with a clear error when it parses ExposedPorts
			}
			hc.PortBindings[port] = []mobynetwork.PortBinding{{HostIP: netip.AddrFrom4([4]byte{127, 0, 0, 1}), HostPort: "0"}}
		}
	}
}

// tarFiles packs files into one tar archive to extract at /. It holds no directory entries: the
// engine creates a missing parent (0755) and leaves an existing one alone, where an entry would
// reset its mode (a Kong image's /tmp would lose its sticky, world-writable bits).
func tarFiles(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		name := strings.TrimPrefix(path.Clean("/"+f.Path), "/")
		if name == "" || name == "." {
			return nil, fmt.Errorf("container file %q: not a file path", f.Path)
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(f.Content))}); err != nil {
			return nil, fmt.Errorf("pack %s: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Content); err != nil {
			return nil, fmt.Errorf("pack %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack container files: %w", err)
	}
	return buf.Bytes(), nil
}

// CopyFiles copies files into the running container as one tar archive (see Start), so a
// harness can hand a running program new files (a CRL) before it reloads.
func (c *Container) CopyFiles(ctx context.Context, files []File) error {
	if len(files) == 0 {
		return nil
	}
	archive, err := tarFiles(files)
	if err != nil {
		return err
	}
	_, err = c.engine.client.CopyToContainer(ctx, c.c.GetContainerID(), client.CopyToContainerOptions{
		DestinationPath: "/", Content: bytes.NewReader(archive)})
	if err != nil {
		return fmt.Errorf("copy %d files into container %s: %w", len(files), c.c.GetContainerID(), err)
	}
	return nil
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

// maxOutput bounds what Output reads: a shard's framed result is well below it.
const maxOutput = 64 << 20

// Output returns everything the container printed (stdout and stderr, as the engine's log
// holds them), for programs whose output is their result; more than 64 MiB is an error.
func (c *Container) Output(ctx context.Context) ([]byte, error) {
	r, err := c.c.Logs(ctx)
	if err != nil {
		return nil, fmt.Errorf("container output: %w", err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxOutput+1))
	if err != nil {
		return nil, fmt.Errorf("container output: %w", err)
	}
	if len(b) > maxOutput {
		return nil, fmt.Errorf("container output: more than %d bytes", maxOutput)
	}
	return b, nil
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

// stopGrace bounds how long a container may take to exit on SIGTERM before it is killed: test
// containers hold nothing worth the engine's default 10 s.
const stopGrace = 2 * time.Second

// Terminate stops and removes the container.
func (c *Container) Terminate(ctx context.Context) error {
	if err := c.c.Terminate(ctx, testcontainers.StopTimeout(stopGrace)); err != nil {
		return fmt.Errorf("terminate container %s: %w", c.c.GetContainerID(), err)
	}
	return nil
}

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
