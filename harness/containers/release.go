package containers

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/moby/moby/client"
)

// releaseDockerfile wraps a release directory's root filesystem (see BuildReleaseImage). ADD
// unpacks the archive with its modes, which a COPY of directories would not keep (/tmp's
// sticky, world-writable bits). The image is the reference image plus the suites, so it carries
// the same label.
const releaseDockerfile = "FROM scratch\nADD rootfs.tar /\nLABEL " + ReferenceLabel + "=true\nENTRYPOINT [\"/mtlsgate\"]\n"

// BuildReleaseImage builds the FROM-scratch conformance image from a linux release directory
// (mtlsgate and suites/<profile>.test, static) and tags it repo:tag for every tag given; it
// returns the first reference. Scratch has no /tmp, where the suites write their PKI and
// configuration files, so the image gets one (mode 1777, for any --user).
func BuildReleaseImage(ctx context.Context, e *Engine, dir, repo string, tags ...string) (string, error) {
	if len(tags) == 0 {
		return "", fmt.Errorf("build release image from %s: no tag given", dir)
	}
	build, err := os.MkdirTemp("", "mtlsgate-release-image-")
	if err != nil {
		return "", fmt.Errorf("build release image: %w", err)
	}
	defer os.RemoveAll(build)
	if err := writeRootFS(filepath.Join(build, "rootfs.tar"), dir); err != nil {
		return "", fmt.Errorf("build release image from %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(build, "Dockerfile"), []byte(releaseDockerfile), 0o644); err != nil {
		return "", fmt.Errorf("build release image: write the Dockerfile: %w", err)
	}
	ref := repo + ":" + tags[0]
	if err := buildDir(ctx, e.logger, build, repo, tags[0]); err != nil {
		return "", fmt.Errorf("build release image %s: %w", ref, err)
	}
	for _, t := range tags[1:] {
		if _, err := e.client.ImageTag(ctx, client.ImageTagOptions{Source: ref, Target: repo + ":" + t}); err != nil {
			return "", fmt.Errorf("tag %s as %s:%s: %w", ref, repo, t, err)
		}
	}
	return ref, nil
}

// writeRootFS packs the image's root: /mtlsgate, /suites/*.test and an empty /tmp.
func writeRootFS(path, dir string) error {
	suites, err := filepath.Glob(filepath.Join(dir, "suites", "*.test"))
	if err != nil || len(suites) == 0 {
		return fmt.Errorf("no compiled suites in %s (want suites/<profile>.test from `ginkgo build`)", filepath.Join(dir, "suites"))
	}
	sort.Strings(suites)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, d := range []struct {
		name string
		mode int64
	}{{"tmp/", 0o1777}, {"suites/", 0o755}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode}); err != nil {
			return fmt.Errorf("pack /%s: %w", d.name, err)
		}
	}
	files := append([]string{filepath.Join(dir, "mtlsgate")}, suites...)
	for _, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("read %s for the image: %w", src, err)
		}
		rel, err := filepath.Rel(dir, src)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: filepath.ToSlash(rel), Mode: 0o755, Size: int64(len(b))}); err != nil {
			return fmt.Errorf("pack %s: %w", rel, err)
		}
		if _, err := tw.Write(b); err != nil {
			return fmt.Errorf("pack %s: %w", rel, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("pack the image's root: %w", err)
	}
	return f.Close()
}
