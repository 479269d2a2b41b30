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

func (a *API) docs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	docsPage.Execute(w, nil)
}
