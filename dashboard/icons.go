package dashboard

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"regexp"
	"strings"
)

// The dashboard's icons: Lucide's (ISC), copied from the lucide-static
// npm package by scripts/assets (assets/README.md lists them), drawn
// inline so they take the text's colour and need no request.
//
//go:embed assets/icons/*.svg
var iconFiles embed.FS

var (
	reIconComment = regexp.MustCompile(`<!--.*?-->\s*`)
	reIconClass   = regexp.MustCompile(`class="lucide[^"]*"`)
	reSpace       = regexp.MustCompile(`\s+`)
)

// icons are the SVGs by name, ready to inline: decorative (hidden from
// assistive technology; the text beside an icon says what it is).
var icons = func() map[string]template.HTML {
	out := map[string]template.HTML{}
	names, _ := fs.Glob(iconFiles, "assets/icons/*.svg")
	for _, n := range names {
		b, _ := iconFiles.ReadFile(n)
		s := reIconComment.ReplaceAllString(string(b), "")
		s = reIconClass.ReplaceAllString(s, `class="icon" aria-hidden="true" focusable="false"`)
		s = strings.ReplaceAll(reSpace.ReplaceAllString(strings.TrimSpace(s), " "), "> <", "><")
		out[strings.TrimSuffix(strings.TrimPrefix(n, "assets/icons/"), ".svg")] = template.HTML(s)
	}
	return out
}()

// icon is the named icon; an unknown name fails the page's render (and
// so the tests that render every page).
func icon(name string) (template.HTML, error) {
	if s, ok := icons[name]; ok {
		return s, nil
	}
	return "", fmt.Errorf("dashboard: no icon %q (scripts/assets copies them)", name)
}

// navLink is a link of the sidebar: base+section, with its icon, marked
// as the current page when path is in that section.
func navLink(path, base, section, iconName, label string) (template.HTML, error) {
	ic, err := icon(iconName)
	if err != nil {
		return "", err
	}
	href := base + section
	current := path == href || (section != "" && strings.HasPrefix(path, href+"/"))
	attr := ""
	if current {
		attr = ` aria-current="page"`
	}
	return template.HTML(`<a href="` + template.HTMLEscapeString(href) + `"` + attr + `>` + string(ic) + template.HTMLEscapeString(label) + `</a>`), nil
}
