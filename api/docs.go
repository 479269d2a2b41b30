package api

import (
	"html/template"
	"io/fs"
	"net/http"
)

// docsAssets are the docs page's scripts and styles, embedded (see
// docs_assets.go); nothing loads from a CDN.
func docsAssets() fs.FS {
	sub, err := fs.Sub(assets, "docsassets")
	if err != nil {
		panic(err)
	}
	return sub
}

var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Trident API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>`))

// docsCSP is the docs page's Content-Security-Policy: its scripts and
// styles are Trident's own files (Swagger UI sets inline styles), it
// fetches only the API's own document, and no other site may frame it.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (a *API) docs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", docsCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	docsPage.Execute(w, nil)
}
