// Package kubernetes holds the manifests that run the load simulator as a Kubernetes Indexed Job
// (L-5); its test decodes them strictly into the Kubernetes API types.
package kubernetes

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/mtlsgate/mtlsgate/load"
	"github.com/mtlsgate/mtlsgate/load/scenario"
	"github.com/mtlsgate/mtlsgate/load/shard"
)

// decode reads a manifest strictly: an unknown or misspelt field is an error.
func decode(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestManifestsDecodeStrictlyAndHoldTheDesign(t *testing.T) {
	var job batchv1.Job
	decode(t, "job.yaml", &job)
	var cm corev1.ConfigMap
	decode(t, "configmap.yaml", &cm)
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || cm.APIVersion != "v1" || cm.Kind != "ConfigMap" {
		t.Fatalf("kinds: %s %s, %s %s", job.APIVersion, job.Kind, cm.APIVersion, cm.Kind)
	}

	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("completionMode %v: the shards tell themselves apart by JOB_COMPLETION_INDEX, which only Indexed Jobs set", s.CompletionMode)
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Completions != *s.Parallelism {
		t.Fatalf("completions %v, parallelism %v: every shard must run at once", s.Completions, s.Parallelism)
	}
	if s.BackoffLimit == nil || *s.BackoffLimit != 0 {
		t.Errorf("backoffLimit %v: a retried shard would attack out of step with the others", s.BackoffLimit)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s", pod.RestartPolicy)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !strings.HasPrefix(c.Image, "mtlsgate/mtlsgate:") {
		t.Errorf("image %q: the release image, built FROM scratch from harness/containers/Dockerfile", c.Image)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		lim, ok := c.Resources.Limits[r]
		if !ok || lim.IsZero() {
			t.Errorf("no %s limit", r)
		}
		if req := c.Resources.Requests[r]; req.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s request %s, limit %s", r, req.String(), lim.String())
		}
	}
	if cpu := c.Resources.Requests[corev1.ResourceCPU]; cpu.Cmp(c.Resources.Limits[corev1.ResourceCPU]) != 0 {
		t.Errorf("cpu request %s ≠ limit: a shard whose CPU is throttled below its request measures itself, not the gateway", cpu.String())
	}

	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if n, err := strconv.Atoi(env[shard.CountEnv].Value); err != nil || int32(n) != *s.Completions {
		t.Errorf("%s=%q, completions %d: they must be equal", shard.CountEnv, env[shard.CountEnv].Value, *s.Completions)
	}
	for _, e := range c.Env {
		if ref := e.ValueFrom; ref != nil && ref.ConfigMapKeyRef != nil {
			if ref.ConfigMapKeyRef.Name != cm.Name {
				t.Errorf("env %s reads ConfigMap %q, not %q", e.Name, ref.ConfigMapKeyRef.Name, cm.Name)
			}
			if _, ok := cm.Data[ref.ConfigMapKeyRef.Key]; !ok {
				t.Errorf("env %s reads key %q, which the ConfigMap lacks", e.Name, ref.ConfigMapKeyRef.Key)
			}
		}
	}
	if _, ok := env[shard.StartEnv]; !ok {
		t.Errorf("no %s: the shards need a shared start", shard.StartEnv)
	}
	for _, m := range regexp.MustCompile(`\$\(([A-Z_]+)\)`).FindAllStringSubmatch(strings.Join(c.Args, " "), -1) {
		if _, ok := env[m[1]]; !ok {
			t.Errorf("args use $(%s), which the container's env does not define (Kubernetes would pass it literally)", m[1])
		}
	}

	// The result path: a writable volume at --out, and stdout for kubectl logs.
	if c.Args[0] != "load" || !slices.Contains(c.Args, "--out=/results") || !slices.Contains(c.Args, "--result-stdout") {
		t.Errorf("args %v: want load … --out=/results --result-stdout", c.Args)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	if v := vols[mounts["/results"].Name]; v.EmptyDir == nil {
		t.Errorf("/results is not an emptyDir volume: %+v", v)
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("the root filesystem is writable: the shard must write only to /results")
	}
	pki := mounts["/pki"]
	if v := vols[pki.Name]; v.Secret == nil || v.Secret.SecretName != "mtlsgate-identities" || !pki.ReadOnly {
		t.Errorf("/pki: %+v from %+v, want the Secret mtlsgate-identities read-only", pki, v)
	}
	if !slices.Contains(c.Args, "--certs=/pki") {
		t.Errorf("args %v do not load the identities from /pki", c.Args)
	}

	// The ConfigMap's population and thresholds are ones mtlsgate accepts.
	if _, err := scenario.ParseWeights(cm.Data["MTLSGATE_POPULATION"]); err != nil {
		t.Error(err)
	}
	if _, err := load.ParseThresholds(strings.NewReader(cm.Data["thresholds.yaml"])); err != nil {
		t.Errorf("thresholds.yaml: %v", err)
	}
	if !strings.Contains(cm.Data["MTLSGATE_URL"], "//"+cm.Data["MTLSGATE_ALLOW_HOST"]+":") {
		t.Errorf("MTLSGATE_ALLOW_HOST %q is not MTLSGATE_URL's host (%s)", cm.Data["MTLSGATE_ALLOW_HOST"], cm.Data["MTLSGATE_URL"])
	}
}

// TestStrictDecodingCatchesATypo: the strict decoder refuses a misspelt field, so the test above
// can fail.
func TestStrictDecodingCatchesATypo(t *testing.T) {
	b, err := os.ReadFile("job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(b), "completionMode:", "completionMod:", 1)
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(bad), &job); err == nil || !strings.Contains(err.Error(), "completionMod") {
		t.Errorf("a misspelt field was accepted: %v", err)
	}
}
