// Package terraform checks the Terraform module and its example without
// the providers, which cannot be downloaded here (`terraform validate`
// needs them; operators run it, see README.md): every file parses and is
// formatted, every variable and output is documented, every variable is
// used, every reference names something declared, the example passes the
// module what it needs, and every TRIDENT_* setting the tasks get is one
// Trident reads.
package terraform

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// config is one Terraform module's declarations and references.
type config struct {
	dir       string
	variables map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
	locals    map[string]bool
	resources map[string]bool // "aws_lb.main", "data.aws_region.current"
	modules   map[string]*hclsyntax.Block
	refs      []hcl.Traversal
	varRefs   map[string]bool // var.X used outside variables' own blocks
	text      string
}

func load(t *testing.T, dir string) *config {
	t.Helper()
	c := &config{dir: dir, variables: map[string]*hclsyntax.Block{}, outputs: map[string]*hclsyntax.Block{}, locals: map[string]bool{},
		resources: map[string]bool{}, modules: map[string]*hclsyntax.Block{}, varRefs: map[string]bool{}}
	files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	if len(files) == 0 {
		t.Fatalf("%s has no .tf files", dir)
	}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		c.text += string(src)
		f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", name, diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			switch b.Type {
			case "variable":
				c.variables[b.Labels[0]] = b
			case "output":
				c.outputs[b.Labels[0]] = b
			case "locals":
				for n := range b.Body.Attributes {
					c.locals[n] = true
				}
			case "resource":
				c.resources[b.Labels[0]+"."+b.Labels[1]] = true
			case "data":
				c.resources["data."+b.Labels[0]+"."+b.Labels[1]] = true
			case "module":
				c.modules[b.Labels[0]] = b
			}
			inVariable := b.Type == "variable"
			hclsyntax.VisitAll(b, func(n hclsyntax.Node) hcl.Diagnostics {
				if e, ok := n.(hclsyntax.Expression); ok {
					for _, tr := range e.Variables() {
						c.refs = append(c.refs, tr)
						if tr.RootName() == "var" && len(tr) > 1 && !inVariable {
							if a, ok := tr[1].(hcl.TraverseAttr); ok {
								c.varRefs[a.Name] = true
							}
						}
					}
				}
				return nil
			})
		}
	}
	return c
}

func attrName(tr hcl.Traversal, i int) string {
	if i < len(tr) {
		if a, ok := tr[i].(hcl.TraverseAttr); ok {
			return a.Name
		}
	}
	return ""
}

// check runs the checks every module passes.
func (c *config) check(t *testing.T) {
	for name, b := range c.variables {
		if _, ok := b.Body.Attributes["description"]; !ok {
			t.Errorf("%s: variable %q has no description", c.dir, name)
		}
		if _, ok := b.Body.Attributes["type"]; !ok {
			t.Errorf("%s: variable %q has no type", c.dir, name)
		}
		if !c.varRefs[name] {
			t.Errorf("%s: variable %q is never used", c.dir, name)
		}
	}
	for name, b := range c.outputs {
		if _, ok := b.Body.Attributes["description"]; !ok {
			t.Errorf("%s: output %q has no description", c.dir, name)
		}
	}
	for _, tr := range c.refs {
		root := tr.RootName()
		r := tr.SourceRange()
		switch root {
		case "var":
			if _, ok := c.variables[attrName(tr, 1)]; !ok {
				t.Errorf("%s: var.%s is not declared", r, attrName(tr, 1))
			}
		case "local":
			if !c.locals[attrName(tr, 1)] {
				t.Errorf("%s: local.%s is not declared", r, attrName(tr, 1))
			}
		case "module":
			if _, ok := c.modules[attrName(tr, 1)]; !ok {
				t.Errorf("%s: module.%s is not declared", r, attrName(tr, 1))
			}
		case "data":
			if !c.resources["data."+attrName(tr, 1)+"."+attrName(tr, 2)] {
				t.Errorf("%s: data.%s.%s is not declared", r, attrName(tr, 1), attrName(tr, 2))
			}
		case "each", "count", "self", "path", "terraform", "o", "s", "r", "k", "v":
		default:
			// A bare name (lifecycle's ignore_changes) is an attribute, not a reference.
			if len(tr) > 1 && strings.Contains(root, "_") && !c.resources[root+"."+attrName(tr, 1)] {
				t.Errorf("%s: %s.%s is not declared", r, root, attrName(tr, 1))
			}
		}
	}
}

func TestModule(t *testing.T) {
	m := load(t, filepath.Join("modules", "trident"))
	m.check(t)
	if len(m.variables) < 10 || len(m.resources) < 30 {
		t.Errorf("the module has %d variables and %d resources: did a file go missing?", len(m.variables), len(m.resources))
	}
	for _, want := range []string{"aws_rds_cluster.main", "aws_ecs_service.serve", "aws_ecs_service.worker", "aws_lb_listener.https",
		"aws_appautoscaling_policy.cpu", "aws_secretsmanager_secret.main", "aws_cloudwatch_metric_alarm.main", "aws_route53_record.alias"} {
		if !m.resources[want] {
			t.Errorf("the module has no %s", want)
		}
	}
}

func TestExample(t *testing.T) {
	m := load(t, filepath.Join("modules", "trident"))
	ex := load(t, filepath.Join("examples", "aws"))
	ex.check(t)
	call, ok := ex.modules["trident"]
	if !ok {
		t.Fatal("the example does not call the module")
	}
	for name := range call.Body.Attributes {
		if name == "source" {
			continue
		}
		if _, ok := m.variables[name]; !ok {
			t.Errorf("the example sets %q, which the module does not declare", name)
		}
	}
	for name, v := range m.variables {
		if _, hasDefault := v.Body.Attributes["default"]; !hasDefault {
			if _, given := call.Body.Attributes[name]; !given {
				t.Errorf("the example does not set the module's required %q", name)
			}
		}
	}
	for _, tr := range ex.refs {
		if tr.RootName() == "module" {
			if _, ok := m.outputs[attrName(tr, 2)]; !ok {
				t.Errorf("%s: the module has no output %q", tr.SourceRange(), attrName(tr, 2))
			}
		}
	}
}

// Every TRIDENT_* variable the tasks get is a flag of the command they run.
func TestSettingsAreTridents(t *testing.T) {
	if testing.Short() {
		t.Skip("builds trident")
	}
	bin := filepath.Join(t.TempDir(), "trident")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/trident").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	known := map[string]bool{"PGPASSWORD": true} // libpq's, read by pgx for the bootstrap's admin
	for _, args := range [][]string{{"serve", "-h"}, {"worker", "-h"}, {"migrate", "-h"}, {"migrate", "bootstrap", "-h"}} {
		out, _ := exec.Command(bin, args...).CombinedOutput()
		for _, m := range regexp.MustCompile(`TRIDENT_[A-Z0-9_]+`).FindAllString(string(out), -1) {
			known[m] = true
		}
	}
	if len(known) < 20 {
		t.Fatalf("only %d settings found in trident's help", len(known))
	}
	m := load(t, filepath.Join("modules", "trident"))
	used := regexp.MustCompile(`\b(TRIDENT_[A-Z0-9_]+|PGPASSWORD)\s*=`).FindAllStringSubmatch(m.text, -1)
	var unknown []string
	for _, u := range used {
		if !known[u[1]] {
			unknown = append(unknown, u[1])
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("the module sets settings Trident does not read: %v", slices.Compact(unknown))
	}
	if len(used) < 10 {
		t.Errorf("found only %d settings in the module", len(used))
	}
}

// terraform fmt -check, where terraform is installed (.ci/run installs it).
func TestFormatted(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("terraform is not installed; .ci/run installs it")
		}
		t.Skip("terraform is not installed")
	}
	out, err := exec.Command(tf, "fmt", "-check", "-recursive", "-diff", ".").CombinedOutput()
	if err != nil {
		t.Errorf("terraform fmt -check: %v\n%s", err, out)
	}
}
