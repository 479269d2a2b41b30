package architecture

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// serviceLeaks lists, for one Go file of a service, the two leaks of the
// review of issue 23 that imports do not show: a function that serves
// HTTP (takes an http.ResponseWriter or *http.Request: the edge's job),
// and a tenant read from the context whose "missing" flag is dropped (a
// job inserted with a nil tenant).
func serviceLeaks(name string, src any) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	isHTTP := func(e ast.Expr, sel string) bool {
		if s, ok := e.(*ast.StarExpr); ok {
			e = s.X
		}
		x, ok := e.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		pkg, ok := x.X.(*ast.Ident)
		return ok && pkg.Name == "http" && x.Sel.Name == sel
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			for _, p := range n.Type.Params.List {
				if isHTTP(p.Type, "ResponseWriter") || isHTTP(p.Type, "Request") {
					out = append(out, fset.Position(n.Pos()).String()+": "+n.Name.Name+" serves HTTP")
				}
			}
		case *ast.AssignStmt:
			if len(n.Lhs) != 2 || len(n.Rhs) != 1 {
				return true
			}
			call, ok := n.Rhs[0].(*ast.CallExpr)
			if !ok {
				return true
			}
			fn, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || fn.Sel.Name != "FromContext" {
				return true
			}
			if pkg, ok := fn.X.(*ast.Ident); !ok || pkg.Name != "tenancy" {
				return true
			}
			if blank, ok := n.Lhs[1].(*ast.Ident); ok && blank.Name == "_" {
				out = append(out, fset.Position(n.Pos()).String()+": the tenant's missing flag is dropped; use tenancy.Require")
			}
		}
		return true
	})
	return out, nil
}

// Services serve no HTTP and never act for a tenant they did not check
// is there.
func TestServicesServeNoHTTPAndCheckTheTenant(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(moduleRoot(t), "services", "*", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var leaks []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		l, err := serviceLeaks(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		leaks = append(leaks, l...)
	}
	sort.Strings(leaks)
	for _, l := range leaks {
		t.Error(l)
	}
}

// The check catches both leaks as the review found them:
// dep.Service.Proxy writing Apple's answer to an http.ResponseWriter, and
// a tenant taken from the context with its flag ignored.
func TestServiceLeaksAreCaught(t *testing.T) {
	got, err := serviceLeaks("leak.go", `package dep
func (s *Service) Proxy(w http.ResponseWriter, r *http.Request, endpoint string) {}
func tenantOf(ctx context.Context) uuid.UUID { id, _ := tenancy.FromContext(ctx); return id }
func fine(ctx context.Context) uuid.UUID { id, ok := tenancy.FromContext(ctx); _ = ok; return id }
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 { // Proxy twice (w and r), tenantOf once
		t.Errorf("leaks: %d, want 3:\n%s", len(got), strings.Join(got, "\n"))
	}
}
