// Package deploy holds what runs Trident outside a workstation: the
// container image (../Dockerfile), systemd units, the Keycloak realm and
// the Citus distribution. Its tests check what can be checked without
// Docker's registry or AWS: the image's build command yields a static
// binary that runs as the image runs it, and the units verify.
package deploy

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

var (
	built    sync.Once
	builtBin string
	buildErr error
)

// buildLikeTheImage runs the Dockerfile's own go build line, once.
func buildLikeTheImage(t *testing.T) string {
	t.Helper()
	built.Do(func() { builtBin, buildErr = build() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func build() (string, error) {
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*) -o /out/trident (\./cmd/trident)$`).FindSubmatch(df)
	if m == nil {
		return "", errors.New("the Dockerfile's build line is not `RUN CGO_ENABLED=0 go build ... -o /out/trident ./cmd/trident`")
	}
	dir, err := os.MkdirTemp("", "trident-image-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "trident")
	line := strings.ReplaceAll(string(m[1]), "${VERSION}", "v0.0.0-imagetest")
	cmd := exec.Command("sh", "-c", line+" -o "+out+" "+string(m[2]))
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", line, err, b)
	}
	return out, nil
}

func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	df, _ := os.ReadFile("../Dockerfile")
	s := string(df)
	final := s[strings.LastIndex(s, "\nFROM "):]
	for _, want := range []string{"FROM gcr.io/distroless/static-debian12:nonroot", "USER 65532:65532", `ENTRYPOINT ["/trident"]`, `CMD ["/trident", "probe"]`} {
		if !strings.Contains(final, want) {
			t.Errorf("the image's final stage lacks %q", want)
		}
	}
	bin := buildLikeTheImage(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary needs a dynamic loader: distroless/static has none")
		}
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("trident v0.0.0-imagetest")) {
		t.Errorf("trident version: %v %s", err, out)
	}
	// The image's health check with nothing listening fails, as it must.
	if err := exec.Command(bin, "probe", "--timeout", "300ms", "http://127.0.0.1:1/readyz").Run(); err == nil {
		t.Error("probe succeeded with nothing listening")
	}
}

func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	bin := buildLikeTheImage(t)
	dir := t.TempDir()
	for _, name := range []string{"trident-serve.service", "trident-worker.service"} {
		b, err := os.ReadFile(filepath.Join("systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		unit := strings.ReplaceAll(string(b), "/usr/local/bin/trident", bin)
		if !strings.Contains(unit, "ExecStart="+bin+" "+strings.TrimSuffix(strings.TrimPrefix(name, "trident-"), ".service")) {
			t.Errorf("%s does not run its process", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, name)).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
		}
	}
}
