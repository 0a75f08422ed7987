// Package readme turns the Go blocks of the project's README into a Go test
// file, so that every snippet a reader copies is compiled (and vetted) with
// the rest of the module. It is used only by its own test, which keeps
// readme_blocks_test.go in step with README.md.
//
// The rules a README block follows:
//
//   - The blocks of one "## " section are one function body, in order: a
//     later block may use what an earlier one declared. Sections do not see
//     each other's variables.
//   - A block that parses as Go declarations (funcs, types) is file-level.
//     Type declarations inside statement blocks are file-level too, so a
//     type (User) is declared once for the whole README and every section
//     uses the same one.
//   - ctx (a context.Context) and ns (a kv.Namespace) are in scope
//     everywhere; nothing else is.
//   - import lines are allowed (they show readers where a name comes from)
//     and must name the import path this package knows for that name.
//   - Variables a section declares at its top level count as used, except
//     err: an err that is never checked does not compile.
package readme

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Imports maps the package names README blocks may use to import paths.
var Imports = map[string]string{
	"bytes": "bytes", "context": "context", "errors": "errors", "fmt": "fmt", "io": "io",
	"log": "log", "slog": "log/slog", "json": "encoding/json", "http": "net/http",
	"httptest": "net/http/httptest", "netip": "net/netip", "os": "os", "strings": "strings",
	"strconv": "strconv", "testing": "testing", "time": "time",

	"kv":            "github.com/kvkit/kvkit/kv",
	"memory":        "github.com/kvkit/kvkit/kv/memory",
	"cloudflare":    "github.com/kvkit/kvkit/kv/cloudflare",
	"kvserver":      "github.com/kvkit/kvkit/kv/kvserver",
	"kvtest":        "github.com/kvkit/kvkit/kv/kvtest",
	"worker":        "github.com/kvkit/kvkit/kv/worker",
	"cache":         "github.com/kvkit/kvkit/patterns/cache",
	"session":       "github.com/kvkit/kvkit/patterns/session",
	"flags":         "github.com/kvkit/kvkit/patterns/flags",
	"kvopenfeature": "github.com/kvkit/kvkit/patterns/flags/openfeature",
	"counter":       "github.com/kvkit/kvkit/patterns/counter",
	"nethttp":       "github.com/kvkit/kvkit/middleware/nethttp",
	"kvecho":        "github.com/kvkit/kvkit/middleware/echo",
	"httpkey":       "github.com/kvkit/kvkit/middleware/httpkey",

	"echo":        "github.com/labstack/echo/v4",
	"middleware":  "github.com/labstack/echo/v4/middleware",
	"cfkv":        "github.com/cloudflare/cloudflare-go/v7/kv",
	"option":      "github.com/cloudflare/cloudflare-go/v7/option",
	"openfeature": "github.com/open-feature/go-sdk/openfeature",
	"isolated":    "github.com/open-feature/go-sdk/openfeature/isolated",
}

// Block is one ```go block of the README.
type Block struct {
	Line    int    // line of the opening fence
	Section string // the "## " heading it is under
	Code    string
}

// Blocks returns the README's Go blocks.
func Blocks(md []byte) ([]Block, error) {
	var out []Block
	section := ""
	lines := strings.Split(string(md), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "## ") {
			section = strings.TrimSpace(l[3:])
		}
		if strings.TrimSpace(l) != "```go" {
			continue
		}
		start := i + 1
		j := start
		for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
			j++
		}
		if j == len(lines) {
			return nil, fmt.Errorf("README.md:%d: unterminated ```go block", i+1)
		}
		out = append(out, Block{Line: i + 1, Section: section, Code: strings.Join(lines[start:j], "\n")})
		i = j
	}
	return out, nil
}

var importRE = regexp.MustCompile(`(?m)^import\s+(\([^)]*\)|[^\n]*)\n?`)
var importSpecRE = regexp.MustCompile(`^\s*(?:([A-Za-z_][A-Za-z0-9_]*)\s+)?"([^"]+)"\s*(?://.*)?$`)

// splitImports removes the import declarations of a block and checks them.
func splitImports(b Block) (string, error) {
	var err error
	code := importRE.ReplaceAllStringFunc(b.Code, func(decl string) string {
		body := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(decl), "import"))
		body = strings.TrimSuffix(strings.TrimPrefix(body, "("), ")")
		for _, spec := range strings.Split(body, "\n") {
			if strings.TrimSpace(spec) == "" {
				continue
			}
			m := importSpecRE.FindStringSubmatch(spec)
			if m == nil {
				err = fmt.Errorf("README.md:%d: cannot read import %q", b.Line, spec)
				continue
			}
			name := m[1]
			if name == "" {
				name = m[2][strings.LastIndexByte(m[2], '/')+1:]
			}
			if Imports[name] != m[2] {
				err = fmt.Errorf("README.md:%d: import %s %q: this README uses %q for %s", b.Line, name, m[2], Imports[name], name)
			}
		}
		return strings.Repeat("\n", strings.Count(decl, "\n")) // keep line numbers
	})
	return code, err
}

// Generate returns the Go test file for the README's blocks.
func Generate(md []byte) ([]byte, error) {
	blocks, err := Blocks(md)
	if err != nil {
		return nil, err
	}
	var decls, funcs bytes.Buffer
	var order []string
	bodies := map[string]*bytes.Buffer{}
	for _, b := range blocks {
		code, err := splitImports(b)
		if err != nil {
			return nil, err
		}
		code = strings.TrimPrefix(strings.TrimSpace(code), "package main")
		// File-level: declarations only.
		if _, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+code, 0); err == nil {
			fmt.Fprintf(&decls, "\n// README.md:%d (%s)\n%s\n", b.Line, b.Section, strings.TrimSpace(code))
			continue
		}
		// Statements: hoist type declarations to file level.
		src := "package p\nfunc _() {\n" + code + "\n}\n"
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "", src, 0)
		if err != nil {
			return nil, fmt.Errorf("README.md:%d: block is neither declarations nor statements: %v", b.Line, err)
		}
		body := f.Decls[0].(*ast.FuncDecl).Body
		var kept strings.Builder
		last := fset.Position(body.Lbrace).Offset + 1
		for _, st := range body.List {
			ds, ok := st.(*ast.DeclStmt)
			if !ok || ds.Decl.(*ast.GenDecl).Tok != token.TYPE {
				continue
			}
			from, to := fset.Position(st.Pos()).Offset, fset.Position(st.End()).Offset
			kept.WriteString(src[last:from])
			fmt.Fprintf(&decls, "\n// README.md:%d (%s)\n%s\n", b.Line, b.Section, src[from:to])
			last = to
		}
		kept.WriteString(src[last:fset.Position(body.Rbrace).Offset])
		buf := bodies[b.Section]
		if buf == nil {
			buf = &bytes.Buffer{}
			bodies[b.Section] = buf
			order = append(order, b.Section)
		}
		fmt.Fprintf(buf, "\n\t// README.md:%d\n%s\n", b.Line, kept.String())
	}
	for i, sec := range order {
		body := bodies[sec].String()
		uses, err := topLevelNames(body)
		if err != nil {
			return nil, fmt.Errorf("section %q: %v", sec, err)
		}
		fmt.Fprintf(&funcs, "\n// section%d is the section %q.\nfunc section%d() error {\n%s", i+1, sec, i+1, body)
		for _, n := range uses {
			fmt.Fprintf(&funcs, "\t_ = %s\n", n)
		}
		funcs.WriteString("\treturn nil\n}\n")
	}
	all := decls.String() + funcs.String()
	imports, err := usedPackages(all)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("// Code generated from README.md by internal/readme; DO NOT EDIT.\n")
	out.WriteString("// Update it with: go run ./internal/readme/gen\n\npackage readme_test\n\nimport (\n")
	for _, p := range imports {
		fmt.Fprintf(&out, "\t%s %s\n", p.name, strconv.Quote(p.path))
	}
	out.WriteString(")\n")
	out.WriteString(all)
	src, err := format.Source(out.Bytes())
	if err != nil {
		return out.Bytes(), fmt.Errorf("generated code does not format: %v", err)
	}
	return src, nil
}

// topLevelNames returns the names a function body declares at its top
// level (with := or var), except err and _, sorted.
func topLevelNames(body string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+body+"\n}\n", 0)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, st := range f.Decls[0].(*ast.FuncDecl).Body.List {
		switch st := st.(type) {
		case *ast.AssignStmt:
			if st.Tok == token.DEFINE {
				for _, l := range st.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						seen[id.Name] = true
					}
				}
			}
		case *ast.DeclStmt:
			if gd, ok := st.Decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				for _, sp := range gd.Specs {
					for _, id := range sp.(*ast.ValueSpec).Names {
						seen[id.Name] = true
					}
				}
			}
		}
	}
	delete(seen, "_")
	delete(seen, "err")
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

type imp struct{ name, path string }

// usedPackages finds the package names used as selectors (pkg.Name) that
// nothing in the file declares.
func usedPackages(src string) ([]imp, error) {
	src = "package p\n" + src
	f, err := parser.ParseFile(token.NewFileSet(), "", src, 0)
	if err != nil {
		return nil, err
	}
	used := map[string]int{} // name -> offset of the first use
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Obj == nil && !prelude[id.Name] {
				if _, seen := used[id.Name]; !seen {
					used[id.Name] = int(id.Pos()) - 1
				}
			}
		}
		return true
	})
	var out []imp
	for name, at := range used {
		if isDeclared(f, name) {
			continue
		}
		path, ok := Imports[name]
		if !ok {
			line := "?"
			if j := strings.LastIndex(src[:at], "// README.md:"); j >= 0 {
				line, _, _ = strings.Cut(src[j+3:], "\n")
			}
			return nil, fmt.Errorf("%s: the README uses %s.X, but %s is neither a known package nor declared in its section", line, name, name)
		}
		out = append(out, imp{name, path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

// prelude names the variables every section has in scope (prelude_test.go).
var prelude = map[string]bool{"ctx": true, "ns": true}

func isDeclared(f *ast.File, name string) bool {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Name.Name == name {
				return true
			}
		case *ast.GenDecl:
			for _, sp := range d.Specs {
				switch sp := sp.(type) {
				case *ast.TypeSpec:
					if sp.Name.Name == name {
						return true
					}
				case *ast.ValueSpec:
					for _, id := range sp.Names {
						if id.Name == name {
							return true
						}
					}
				}
			}
		}
	}
	return false
}
